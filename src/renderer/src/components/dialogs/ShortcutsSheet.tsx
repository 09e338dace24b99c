/** Every keyboard shortcut on one sheet (? or F1). */
import { setState } from '../../state/store';
import { Modal } from './Modal';

const mod = typeof navigator !== 'undefined' && /Mac/.test(navigator.platform) ? '⌘' : 'Ctrl';

const GROUPS: { title: string; keys: [string, string][] }[] = [
  {
    title: 'Files',
    keys: [
      [`${mod}+O`, 'Open a picture or project'],
      [`${mod}+S`, 'Save the project'],
      [`${mod}+Shift+S`, 'Save as…'],
      [`${mod}+E`, 'Export PNG'],
      [`${mod}+Shift+E`, 'Export PSD'],
    ],
  },
  {
    title: 'Editing',
    keys: [
      [`${mod}+Enter`, 'Send the instruction'],
      ['Esc', 'Cancel the running edit'],
      [`${mod}+Z`, 'Undo'],
      [`${mod}+Shift+Z / ${mod}+Y`, 'Redo'],
    ],
  },
  {
    title: 'Tools (outside the text box: click the picture first)',
    keys: [
      ['V', 'Move / pan'],
      ['B', 'Mask brush'],
      ['E', 'Toggle erase (mask brush)'],
      ['[  ]', 'Smaller / larger brush'],
      ['Space + drag', 'Pan'],
    ],
  },
  {
    title: 'View',
    keys: [
      [`${mod}+ +  /  ${mod}+ −`, 'Zoom in / out'],
      [`${mod}+0`, 'Fit to window'],
      [`${mod}+1`, 'Actual size'],
      ['hold \\', 'Show the source'],
      ['F', 'Flip variants (in Compare)'],
      ['G', 'Explore guidance for the selected edit'],
      ['←↑↓→  Enter', 'Move between grid cells / keep the cell (in the explorer)'],
      ['? / F1', 'This sheet'],
    ],
  },
];

export function ShortcutsSheet() {
  return (
    <Modal
      title="Keyboard shortcuts"
      testId="shortcuts-sheet"
      wide
      onClose={() => setState({ dialog: 'none' })}
    >
      <div className="shortcut-groups">
        {GROUPS.map((group) => (
          <section key={group.title} className="shortcut-group">
            <h3>{group.title}</h3>
            <dl>
              {group.keys.map(([keys, what]) => (
                <div key={keys} className="shortcut-row">
                  <dt>
                    <kbd>{keys}</kbd>
                  </dt>
                  <dd>{what}</dd>
                </div>
              ))}
            </dl>
          </section>
        ))}
      </div>
    </Modal>
  );
}
