/** Commands for the canvas view (zoom) from menus, buttons and shortcuts. */
export type ViewCommand = 'zoomIn' | 'zoomOut' | 'zoomFit' | 'zoom100';

const listeners = new Set<(command: ViewCommand) => void>();

export const viewCommands = {
  emit(command: ViewCommand): void {
    for (const listener of listeners) listener(command);
  },
  on(listener: (command: ViewCommand) => void): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
