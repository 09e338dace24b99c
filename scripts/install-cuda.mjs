// Opt-in: downloads onnxruntime-node's CUDA 12 execution provider binaries (Linux x64, needs
// internet and CUDA 12 / cuDNN 9). The default install skips them (.npmrc), so the flag is passed
// through the environment, which onnxruntime's install script reads before its command line.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const script = join(dirname(require.resolve('onnxruntime-node/package.json')), 'script', 'install.js');
const result = spawnSync(process.execPath, [script], {
  stdio: 'inherit',
  env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12', npm_config_onnxruntime_node_install: 'cuda12' },
});
process.exit(result.status ?? 1);
