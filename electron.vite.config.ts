import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';

export default defineConfig({
  main: {
    build: {
      rolldownOptions: {
        input: {
          index: resolve(__dirname, 'src/main/index.ts'),
          // Everything behind the contract runs in this process (Electron's binary as Node), not in main.
          backend: resolve(__dirname, 'src/main/app/backend/backend-process.ts'),
          // The engine worker runs in its own process, started by the backend beside this file.
          'engine-worker': resolve(__dirname, 'src/main/app/engine/worker.ts'),
          // PSD encoding, flattening and checksums run in a worker thread of the backend (encoder.ts).
          'document-worker': resolve(__dirname, 'src/main/document/encode-worker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      // Sandboxed preloads can only require('electron'): bundle everything else in.
      externalizeDeps: false,
      rolldownOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    plugins: [react()],
    build: {
      rolldownOptions: {
        input: { index: resolve(__dirname, 'src/renderer/index.html') },
      },
    },
  },
});
