// Configuration of the desktop (Electron) front end. src-main/main.ts reads it at startup, and the
// start script (src-web/start.ts) uses `paths.main` to tell whether the app is built. Paths are relative
// to the application directory (the project root, or app.asar when packaged).

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

export default config;
