// Refuses to package for a platform whose native binaries are not installed: npm installs only this
// machine's sharp package (@img/sharp-<os>-<arch>), so an installer built for another OS would not
// start. electron-builder runs it before packing each target (beforePack in electron-builder.yml);
// `node scripts/check-dist-target.mjs [--win|--mac|--linux] [--x64|--arm64]` runs the same check.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OS_NAMES = { win32: 'Windows', darwin: 'macOS', mas: 'macOS', linux: 'Linux' };
// electron-builder's Arch enum, by value.
const ARCH_NAMES = ['ia32', 'x64', 'armv7l', 'arm64', 'universal'];

/** What the app needs to start on `platform`/`arch`, as paths under node_modules. */
function requiredNativeFiles(platform, arch) {
  const os = platform === 'mas' ? 'darwin' : platform;
  const sharp = [`@img/sharp-${os}-${arch}/package.json`];
  // sharp's Windows package carries libvips itself; elsewhere it is a separate package.
  if (os !== 'win32') sharp.push(`@img/sharp-libvips-${os}-${arch}/package.json`);
  const onnxBin = join(ROOT, 'node_modules/onnxruntime-node/bin');
  const napi = existsSync(onnxBin) ? readdirSync(onnxBin).filter((name) => name.startsWith('napi-v')) : [];
  const onnx = (napi.length > 0 ? napi : ['napi-v6']).map(
    (dir) => `onnxruntime-node/bin/${dir}/${os}/${arch}/onnxruntime_binding.node`,
  );
  return [...sharp, ...onnx];
}

/** Null when the target can be packaged, else the reasons and what to do. */
export function distTargetProblem(platform, arch) {
  const osName = OS_NAMES[platform] ?? platform;
  const missing = requiredNativeFiles(platform, arch).filter(
    (file) => !existsSync(join(ROOT, 'node_modules', file)),
  );
  const problems = missing.map((file) => `  - node_modules/${file}`);
  if (platform === 'darwin' && arch !== 'arm64')
    problems.push(
      `  - onnxruntime-node has no macOS ${arch} binary: macOS builds are arm64 (Apple silicon) only`,
    );
  const vcRedist = join(ROOT, 'build/win/vc_redist.x64.exe');
  if (platform === 'win32' && !existsSync(vcRedist))
    problems.push(
      '  - build/win/vc_redist.x64.exe (the installer runs it on machines without the VC++ runtime); get it with',
      '    curl.exe -L --create-dirs -o build/win/vc_redist.x64.exe https://aka.ms/vs/17/release/vc_redist.x64.exe',
    );
  if (problems.length === 0) return null;
  const hostName = OS_NAMES[process.platform] ?? process.platform;
  const advice =
    platform === process.platform || (platform === 'mas' && process.platform === 'darwin')
      ? `Run \`npm ci\` on this ${hostName} machine (without --omit=optional), then build again.`
      : `npm installs only this machine's (${hostName}) native packages: build ${osName} installers on ${osName}` +
        ' (the GitHub Actions workflow .github/workflows/release.yml builds each OS on its own runner).';
  return [`Cannot build the ${osName} ${arch} app: missing`, ...problems, advice].join('\n');
}

/** electron-builder's beforePack hook. */
export default async function beforePack(context) {
  const arch = ARCH_NAMES[context.arch] ?? String(context.arch);
  const problem = distTargetProblem(context.electronPlatformName, arch);
  if (problem) throw new Error(problem);
}

function parseTarget(args) {
  const platform = args.includes('--win')
    ? 'win32'
    : args.includes('--mac')
      ? 'darwin'
      : args.includes('--linux')
        ? 'linux'
        : process.platform;
  const named = ARCH_NAMES.find((name) => args.includes(`--${name}`));
  // The architectures electron-builder.yml builds: macOS arm64, Windows and Linux x64.
  return { platform, arch: named ?? (platform === 'darwin' ? 'arm64' : 'x64') };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { platform, arch } = parseTarget(process.argv.slice(2));
  const problem = distTargetProblem(platform, arch);
  if (problem) {
    console.error(problem);
    process.exit(1);
  }
  console.log(`Native packages for ${OS_NAMES[platform] ?? platform} ${arch} are installed.`);
}
