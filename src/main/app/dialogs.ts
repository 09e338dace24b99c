/** Native dialogs (Electron); browser mode has none and the renderer uses file inputs and downloads. */
import type { ExportFormat } from '../../shared/contract/schemas';

export interface Dialogs {
  /** An image or a project to open; null when cancelled. */
  openFile(): Promise<string | null>;
  chooseModelFolder(): Promise<string | null>;
  saveProject(suggestedName: string): Promise<string | null>;
  saveExport(format: ExportFormat, suggestedName: string): Promise<string | null>;
  /** A folder to write several files into (training pairs); null when cancelled. */
  chooseExportFolder?(title: string): Promise<string | null>;
}

export const PROJECT_EXTENSION = 'iedit';
export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'tif', 'tiff', 'bmp', 'gif', 'avif'];
