// Configuration of the desktop (Electron) front end. src-main/main.ts reads it at startup, and the
// start script (src-web/start.ts) uses `paths.main` to tell whether the app is built. Paths are relative
// to the application directory (the project root, or app.asar when packaged). `builder` is the
// electron-builder configuration for the Linux packages (npm run package:linux; see the README: not
// verified on our build machines, which cannot download Electron). It is plain data typed here, so that
// electron-builder, which downloads its own binaries, need not be a dependency.

export interface ElectronConfig {
  appId: string;
  productName: string;
  window: {
    width: number;
    height: number;
    minWidth: number;
    minHeight: number;
    backgroundColor: string;
  };
  paths: {
    /** the compiled main process (package.json "main" points here too) */
    main: string;
    /** the sandboxed preload with the IPC bridge (CommonJS) */
    preload: string;
    /** the built renderer's directory, served as app://bcachefs-repair/ */
    renderer: string;
    /** the service entry run by utilityProcess.fork */
    service: string;
    /** the bundled sample image proposed on first start */
    sample: string;
  };
  /** custom scheme the renderer is loaded from (file:// breaks ES module loading) */
  scheme: string;
  /** file picker filters for images */
  imageFilters: Array<{ name: string; extensions: string[] }>;
  /** open DevTools on start (for development only) */
  devTools: boolean;
}

/** The part of electron-builder's Configuration used here (https://www.electron.build/configuration). */
export interface BuilderConfig {
  appId: string;
  productName: string;
  directories: { output: string; buildResources: string };
  /** what goes into the app (globs relative to the project root; "!" excludes) */
  files: string[];
  asar: true;
  /** kept outside app.asar: native code (dlopen cannot read an archive) and what other processes run */
  asarUnpack: string[];
  /** rebuild production dependencies' native modules against Electron's ABI (@electron/rebuild) */
  npmRebuild: true;
  /** build from source, never fetch prebuilt binaries made for another ABI */
  buildDependenciesFromSource: true;
  extraMetadata: { main: string };
  linux: { target: Array<'AppImage' | 'deb'>; category: string; icon: string; synopsis: string; description: string };
  deb: { depends: string[]; priority: string };
  appImage: { artifactName: string };
}

const config: ElectronConfig = {
  appId: 'org.bcachefs-repair.workstation',
  productName: 'bcachefs-repair',
  window: { width: 1280, height: 900, minWidth: 900, minHeight: 600, backgroundColor: '#f4f5f7' },
  paths: {
    main: 'dist/src-main/main.js',
    preload: 'dist/src-main/preload.cjs',
    renderer: 'dist/renderer',
    service: 'dist/src-core/service/child.js',
    sample: 'assets/sample.img.gz',
  },
  scheme: 'app',
  imageFilters: [
    { name: 'bcachefs images', extensions: ['img', 'gz', 'raw', 'bin'] },
    { name: 'All files', extensions: ['*'] },
  ],
  devTools: false,
};

export const builder: BuilderConfig = {
  appId: config.appId,
  productName: config.productName,
  directories: { output: 'dist/packages', buildResources: 'assets' },
  files: [
    'package.json',
    'dist/electron.config.js',
    'dist/src-main/**',
    'dist/src-core/**',
    'dist/renderer/**',
    '!**/*.map',
    config.paths.sample,
    // the O_DIRECT addon (N-API: one build serves Node and Electron of the same platform and architecture)
    'src-core/device/native/build/Release/direct_io.node',
  ],
  asar: true,
  asarUnpack: [
    '**/*.node',
    // better-sqlite3 (the repair journal) loads its addon from its own folder
    'node_modules/better-sqlite3/**',
    // the service runs in a utilityProcess and starts worker threads from its files
    'dist/src-core/**',
    // opened by path by the service, and unpacked from there
    config.paths.sample,
  ],
  npmRebuild: true,
  buildDependenciesFromSource: true,
  extraMetadata: { main: config.paths.main },
  linux: {
    target: ['AppImage', 'deb'],
    category: 'System',
    icon: 'assets/icon.png',
    synopsis: 'Check and repair bcachefs disks',
    description: 'A repair workstation for bcachefs disks (2021 on-disk format): check, plan and undo repairs, audit reports.',
  },
  // lsblk for the device list; pkexec to open disks as a desktop user (README, "Opening disks")
  deb: { depends: ['util-linux', 'pkexec | policykit-1'], priority: 'optional' },
  appImage: { artifactName: '${productName}-${version}-${arch}.AppImage' },
};

export default config;
