// Runs before `npm start` and `npm run dev` (prestart / predev).
// 1. Stops early, with a readable message, on a Node.js the toolchain does not run on.
// 2. Makes sure Electron's binary is downloaded. Electron's npm package has no install script: it
//    downloads the binary the first time `require('electron')` runs, and electron-vite only reads
//    node_modules/electron/path.txt, so without this step a fresh clone fails with "Electron uninstall".
// Written for old Node versions too (no syntax newer than Node 14), so that step 1 can report.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The Node.js versions vite 8, electron-vite 6, eslint 10 and Electron's downloader (require of ESM) run on. */
const SUPPORTED_NODE = '^20.19.0 || >=22.13.0';

/** Null when `version` (e.g. "20.20.2") is supported, else the reason. */
function nodeVersionProblem(version) {
  const [major, minor] = version.split('.').map((part) => Number.parseInt(part, 10));
  const supported = (major === 20 && minor >= 19) || (major === 22 && minor >= 13) || major >= 23;
  if (supported) return null;
  return (
    `Instruct Edit needs Node.js ${SUPPORTED_NODE}; this is Node.js ${version}.\n` +
    'Install a current Node.js LTS (https://nodejs.org/, or `nvm install --lts`), then run `npm install` again.'
  );
}

function electronPackageDir(require) {
  return dirname(require.resolve('electron/package.json'));
}

function downloadAdvice(version, mirror) {
  const target = `electron-v${version}-${process.platform}-${process.arch}.zip`;
  return [
    `Instruct Edit: could not download Electron ${version} (${target}); the reason is printed above.`,
    mirror
      ? `It was requested from ELECTRON_MIRROR=${mirror} (does that mirror have this version?).`
      : 'It is fetched once from https://github.com/electron/electron/releases into node_modules/electron/dist.',
    'What to do:',
    '  - Check the internet connection, then run `npm start` again.',
    '  - Behind a proxy: set HTTPS_PROXY=http://HOST:PORT and ELECTRON_GET_USE_PROXY=true.',
    '  - Where GitHub is blocked: set ELECTRON_MIRROR to a mirror of Electron releases',
    '    (e.g. ELECTRON_MIRROR=https://npmmirror.com/mirrors/electron/).',
    '  - Already have Electron unpacked somewhere: set ELECTRON_EXEC_PATH to its executable.',
    'Without the app window you can still use the command line (`npm run cli`) and the browser UI (`npm run serve`).',
  ].join('\n');
}

function main() {
  const versionProblem = nodeVersionProblem(process.versions.node);
  if (versionProblem) {
    console.error(versionProblem);
    process.exit(1);
  }
  // electron-vite runs this executable as it is; nothing to fetch.
  if (process.env.ELECTRON_EXEC_PATH) return;

  const require = createRequire(import.meta.url);
  const packageDir = electronPackageDir(require);
  const version = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).version;
  let executable;
  try {
    // Downloads and unpacks the binary when it is missing, then returns its path.
    executable = require('electron');
  } catch {
    console.error(downloadAdvice(version, process.env.ELECTRON_MIRROR));
    process.exit(1);
  }
  if (typeof executable !== 'string' || !existsSync(executable)) {
    console.error(downloadAdvice(version, process.env.ELECTRON_MIRROR));
    process.exit(1);
  }
}

main();
