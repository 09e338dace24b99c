/** Feeds the main side's events into the store. */
import type { AppClient } from '../../../shared/contract/client';
import { applyDocument, loadInitialState, runMenuCommand } from './actions';
import { applyGridProgress, applyGridView } from './grid-actions';
import { stepMsFromProgress } from './grid-logic';
import { getState, setState, toast } from './store';

export function connectEvents(client: AppClient): () => void {
  const offs = [
    client.on('document.changed', ({ document }) => applyDocument(document)),
    client.on('job.progress', (progress) =>
      setState((current) => ({
        progress: { ...current.progress, [progress.jobId]: progress },
        stepMs: stepMsFromProgress(progress) ?? current.stepMs,
      })),
    ),
    client.on('grid.updated', ({ grid }) => applyGridView(grid)),
    client.on('grid.progress', (progress) => applyGridProgress(progress)),
    client.on('job.updated', (update) => {
      if (update.status !== 'running' && update.status !== 'queued') {
        setState((current) => {
          const { [update.jobId]: _gone, ...rest } = current.progress;
          return { progress: rest };
        });
      }
      if (update.status === 'failed' && update.error) toast(`The edit failed: ${update.error}`, 'error');
    }),
    client.on('model.status', (model) => {
      setState({ model });
      // A folder that loaded is now in the settings' model list: show it there.
      if (model.state === 'ready')
        void client
          .call('settings.get', {})
          .then((settings) => setState({ settings }))
          .catch(() => undefined);
    }),
    client.on('model.downloadProgress', (progress) =>
      setState((current) => ({ downloads: { ...current.downloads, [progress.downloadId]: progress } })),
    ),
    client.on('engine.status', (engine) => setState({ engine })),
    client.on('menu.command', ({ command }) => runMenuCommand(command)),
    client.onConnectionChange((connected) => {
      const wasConnected = getState().connected;
      setState({ connected });
      if (connected && !wasConnected && getState().info) {
        // Reconnected (browser mode): refresh everything the events may have missed.
        void loadInitialState().catch(() => undefined);
      }
    }),
  ];
  return () => {
    for (const off of offs) off();
  };
}
