// The renderer's only door to the rest of the app (sandboxed preload, CommonJS): three functions.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

contextBridge.exposeInMainWorld('bcachefsRepair', {
  /** one service request; resolves to {result} or {error: {message, code}} */
  call: (method: string, params: unknown): Promise<unknown> => ipcRenderer.invoke('service:call', method, params),
  /** service events ({event, data}); returns an unsubscribe function */
  onEvent: (cb: (ev: unknown) => void): (() => void) => {
    const listener = (_e: IpcRendererEvent, ev: unknown): void => cb(ev);
    ipcRenderer.on('service:event', listener);
    return () => ipcRenderer.removeListener('service:event', listener);
  },
  /** the native file picker; resolves to a path or null */
  pickImage: (): Promise<string | null> => ipcRenderer.invoke('dialog:open-image'),
});
