/**
 * sharp, loaded so that its bundled GLib cannot clash with the system's GLib.
 *
 * sharp's prebuilt libvips carries its own copy of GLib/GObject and exports those symbols. In a
 * process that already has the system's libgobject (every process of Electron's binary on Linux:
 * the window process, utility processes, ELECTRON_RUN_AS_NODE children; electron#46323, sharp#4525),
 * the dynamic linker binds libvips's calls to the system copy: objects made by one copy are freed by
 * the other (GLib-GObject-CRITICAL, then crashes). Loading sharp's addon with RTLD_DEEPBIND makes
 * the addon and libvips look up symbols in their own dependency tree first, so libvips uses its
 * own GLib whatever else is loaded. Linux (glibc) only; INSTRUCT_EDIT_SHARP_DEEPBIND=0 turns it off.
 */
import { readdirSync, realpathSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import type SharpModule from 'sharp';

type Sharp = typeof SharpModule;

interface LoadableModule {
  filename: string;
  loaded: boolean;
  exports: unknown;
}

const moduleInternals = Module as unknown as {
  new (id: string): LoadableModule;
  _cache: Record<string, LoadableModule>;
};

/** The addon file sharp will require on this platform, or null when there is none to preload. */
export function sharpAddonPath(resolver: NodeJS.Require): string | null {
  // glibc only: musl has no RTLD_DEEPBIND (and its sharp package is @img/sharp-linuxmusl-*).
  if (process.platform !== 'linux' || constants.dlopen.RTLD_DEEPBIND === undefined) return null;
  try {
    const packageDir = dirname(resolver.resolve(`@img/sharp-linux-${process.arch}/package`));
    const addon = readdirSync(join(packageDir, 'lib')).find((name) => name.endsWith('.node'));
    return addon ? realpathSync(join(packageDir, 'lib', addon)) : null;
  } catch {
    return null;
  }
}

let isolated = false;

/** Whether sharp's addon was loaded with RTLD_DEEPBIND in this process. */
export function sharpIsolated(): boolean {
  return isolated;
}

function loadSharp(): Sharp {
  const resolver = createRequire(__filename);
  const addon = process.env.INSTRUCT_EDIT_SHARP_DEEPBIND === '0' ? null : sharpAddonPath(resolver);
  if (addon && !moduleInternals._cache[addon]) {
    const addonModule = new moduleInternals(addon);
    addonModule.filename = addon;
    process.dlopen(addonModule, addon, constants.dlopen.RTLD_NOW | (constants.dlopen.RTLD_DEEPBIND ?? 0));
    addonModule.loaded = true;
    // sharp's own require of this file now finds the module loaded above.
    moduleInternals._cache[addon] = addonModule;
    isolated = true;
  }
  return resolver('sharp') as Sharp;
}

const sharp: Sharp = loadSharp();
export default sharp;
