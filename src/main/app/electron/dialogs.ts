/** Native dialogs for open / save / export / model folder. */
import { dialog, type BrowserWindow } from 'electron';
import type { ExportFormat } from '../../../shared/contract/schemas';
import { IMAGE_EXTENSIONS, PROJECT_EXTENSION, type Dialogs } from '../dialogs';

export function createElectronDialogs(window: () => BrowserWindow | null): Dialogs {
  const parent = () => window() ?? undefined;
  const showOpen = (options: Electron.OpenDialogOptions) => {
    const owner = parent();
    return owner ? dialog.showOpenDialog(owner, options) : dialog.showOpenDialog(options);
  };
  const showSave = (options: Electron.SaveDialogOptions) => {
    const owner = parent();
    return owner ? dialog.showSaveDialog(owner, options) : dialog.showSaveDialog(options);
  };
  return {
    async openFile() {
      const result = await showOpen({
        title: 'Open a picture or a project',
        properties: ['openFile'],
        filters: [
          { name: 'Pictures and projects', extensions: [...IMAGE_EXTENSIONS, PROJECT_EXTENSION] },
          { name: 'Pictures', extensions: IMAGE_EXTENSIONS },
          { name: 'Instruct Edit projects', extensions: [PROJECT_EXTENSION] },
        ],
      });
      return result.canceled ? null : (result.filePaths[0] ?? null);
    },
    async chooseModelFolder() {
      const result = await showOpen({
        title: 'Choose an InstructPix2Pix ONNX model folder',
        properties: ['openDirectory'],
      });
      return result.canceled ? null : (result.filePaths[0] ?? null);
    },
    async chooseExportFolder(title) {
      const result = await showOpen({ title, properties: ['openDirectory', 'createDirectory'] });
      return result.canceled ? null : (result.filePaths[0] ?? null);
    },
    async saveProject(suggestedName) {
      const result = await showSave({
        title: 'Save project',
        defaultPath: suggestedName,
        filters: [{ name: 'Instruct Edit project', extensions: [PROJECT_EXTENSION] }],
      });
      return result.canceled ? null : (result.filePath ?? null);
    },
    async saveExport(format: ExportFormat, suggestedName) {
      const result = await showSave({
        title: format === 'png' ? 'Export PNG' : 'Export PSD (layers)',
        defaultPath: suggestedName,
        filters: [
          format === 'png'
            ? { name: 'PNG image', extensions: ['png'] }
            : { name: 'Photoshop document', extensions: ['psd'] },
        ],
      });
      return result.canceled ? null : (result.filePath ?? null);
    },
  };
}
