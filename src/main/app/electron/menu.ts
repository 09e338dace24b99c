/** The application menu. Items send `menu.command` to the renderer, which runs the same code as its own buttons. */
import { app, Menu, type MenuItemConstructorOptions } from 'electron';
import { basename } from 'node:path';
import type { MenuCommand } from '../../../shared/contract/schemas';

export interface MenuActions {
  command(command: MenuCommand): void;
  openRecent(path: string): void;
  clearRecent(): void;
  recentFiles(): string[];
  toggleDevTools(): void;
}

export function buildMenu(actions: MenuActions): void {
  const isMac = process.platform === 'darwin';
  const item = (label: string, command: MenuCommand, accelerator?: string): MenuItemConstructorOptions => ({
    label,
    ...(accelerator ? { accelerator } : {}),
    click: () => actions.command(command),
  });
  const recent = actions.recentFiles();
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: '&File',
      submenu: [
        item('Open…', 'open', 'CmdOrCtrl+O'),
        {
          label: 'Open Recent',
          submenu: recent.length
            ? [
                ...recent.map((path): MenuItemConstructorOptions => ({
                  label: basename(path),
                  sublabel: path,
                  click: () => actions.openRecent(path),
                })),
                { type: 'separator' },
                { label: 'Clear Recent', click: () => actions.clearRecent() },
              ]
            : [{ label: 'No recent files', enabled: false }],
        },
        { type: 'separator' },
        item('Save Project', 'save', 'CmdOrCtrl+S'),
        item('Save Project As…', 'saveAs', 'Shift+CmdOrCtrl+S'),
        { type: 'separator' },
        item('Export PNG…', 'exportPng', 'CmdOrCtrl+E'),
        item('Export PSD…', 'exportPsd', 'Shift+CmdOrCtrl+E'),
        item('Export Training Pairs…', 'exportTrainingPairs'),
        { type: 'separator' },
        item('Models…', 'models'),
        item('Settings…', 'settings', 'CmdOrCtrl+,'),
        ...(isMac ? [] : [{ type: 'separator' as const }, { role: 'quit' as const }]),
      ],
    },
    {
      label: '&Edit',
      submenu: [
        item('Undo', 'undo', 'CmdOrCtrl+Z'),
        item('Redo', 'redo', 'Shift+CmdOrCtrl+Z'),
        // Ctrl+Y as well, as Windows and Linux users expect.
        ...(isMac
          ? []
          : [{ ...item('Redo', 'redo', 'Ctrl+Y'), visible: false, acceleratorWorksWhenHidden: true }]),
        { type: 'separator' },
        { role: 'cut' },
        { role: 'copy' },
        { role: 'paste' },
        { role: 'selectAll' },
        { type: 'separator' },
        item('Cancel Running Edit', 'cancelJob'),
        item('Explore Guidance…', 'exploreGuidance'),
      ],
    },
    {
      label: '&View',
      submenu: [
        item('Zoom In', 'zoomIn', 'CmdOrCtrl+='),
        item('Zoom Out', 'zoomOut', 'CmdOrCtrl+-'),
        item('Fit to Window', 'zoomFit', 'CmdOrCtrl+0'),
        item('Actual Size (100 %)', 'zoom100', 'CmdOrCtrl+1'),
        { type: 'separator' },
        { role: 'togglefullscreen' },
        ...(app.isPackaged
          ? []
          : [{ label: 'Developer Tools', accelerator: 'F12', click: () => actions.toggleDevTools() }]),
      ],
    },
    { role: 'windowMenu' },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}
