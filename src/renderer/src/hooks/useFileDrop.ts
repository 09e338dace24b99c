/** Open a picture by dropping it on the window or pasting it (Ctrl/Cmd+V). */
import { useEffect, useState } from 'react';
import { openBytes, openFiles } from '../state/actions';

export function useFileDrop(): boolean {
  const [over, setOver] = useState(false);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (event: DragEvent) => event.dataTransfer?.types.includes('Files') ?? false;
    const onEnter = (event: DragEvent) => {
      if (!hasFiles(event)) return;
      depth++;
      setOver(true);
    };
    const onLeave = (event: DragEvent) => {
      if (!hasFiles(event)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setOver(false);
    };
    const onOver = (event: DragEvent) => {
      if (hasFiles(event)) event.preventDefault();
    };
    const onDrop = (event: DragEvent) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth = 0;
      setOver(false);
      if (event.dataTransfer?.files.length) void openFiles(event.dataTransfer.files);
    };
    const onPaste = (event: ClipboardEvent) => {
      const target = event.target;
      const items = [...(event.clipboardData?.items ?? [])];
      const imageItem = items.find((item) => item.kind === 'file' && item.type.startsWith('image/'));
      if (!imageItem) return;
      if (
        (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) &&
        items.some((item) => item.kind === 'string')
      )
        return;
      const file = imageItem.getAsFile();
      if (!file) return;
      event.preventDefault();
      const extension = file.type.split('/')[1] ?? 'png';
      void file
        .arrayBuffer()
        .then((buffer) =>
          openBytes(
            file.name && file.name !== 'image.png' ? file.name : `pasted.${extension}`,
            new Uint8Array(buffer),
          ),
        );
    };
    window.addEventListener('dragenter', onEnter);
    window.addEventListener('dragleave', onLeave);
    window.addEventListener('dragover', onOver);
    window.addEventListener('drop', onDrop);
    window.addEventListener('paste', onPaste);
    return () => {
      window.removeEventListener('dragenter', onEnter);
      window.removeEventListener('dragleave', onLeave);
      window.removeEventListener('dragover', onOver);
      window.removeEventListener('drop', onDrop);
      window.removeEventListener('paste', onPaste);
    };
  }, []);
  return over;
}
