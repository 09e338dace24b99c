/**
 * Which CLIP model the guidance grid measures its cells with: a folder the user chose (remembered
 * in the settings), else one found beside the edit model (a `clip/` subfolder, or a sibling folder
 * named clip-vit-large-patch14 or clip). Only the folder's files are looked at here; the model is
 * loaded in the engine worker when a grid needs it.
 */
import type { ClipStatus } from '../../shared/contract/schemas';
import { findClipBeside, inspectClipFolder } from '../engine/clip/clip-folder';
import type { ModelService } from './model-service';
import type { SettingsStore } from './settings-store';

export class ClipService {
  constructor(
    private readonly settings: SettingsStore,
    private readonly models: ModelService,
  ) {}

  status(): ClipStatus {
    const chosen = this.settings.get().clipFolder ?? null;
    if (chosen !== null) {
      try {
        inspectClipFolder(chosen);
        return { state: 'ready', folder: chosen, source: 'chosen', message: null };
      } catch (error) {
        return { state: 'error', folder: chosen, source: 'chosen', message: (error as Error).message };
      }
    }
    const model = this.models.status();
    const beside = model.dir !== null && model.state !== 'error' ? findClipBeside(model.dir) : undefined;
    return beside
      ? { state: 'ready', folder: beside, source: 'beside-model', message: null }
      : { state: 'none', folder: null, source: null, message: null };
  }

  /** The folder the next grid's metrics use, or null (no metrics). */
  folder(): string | null {
    const status = this.status();
    return status.state === 'ready' ? status.folder : null;
  }

  /**
   * Remembers a chosen CLIP folder; null forgets it (back to the one beside the model). A folder
   * that holds no CLIP export is not remembered: the answer is an 'error' status saying what is missing.
   */
  use(dir: string | null): ClipStatus {
    if (dir !== null) {
      try {
        inspectClipFolder(dir);
      } catch (error) {
        return { state: 'error', folder: dir, source: 'chosen', message: (error as Error).message };
      }
    }
    this.settings.update((settings) => {
      if (dir === null) delete settings.clipFolder;
      else settings.clipFolder = dir;
    });
    return this.status();
  }
}
