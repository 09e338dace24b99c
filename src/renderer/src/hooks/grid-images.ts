/**
 * Grid cells' pictures (grid.cellImage PNGs), decoded and cached by grid, cell and size. A cell's
 * picture never changes once it is done, so the key needs no revision.
 */
import { useEffect, useState } from 'react';
import { api } from '../state/actions';
import { decodePng } from './images';

const cache = new Map<string, Promise<HTMLImageElement>>();
const MAX_ENTRIES = 150;

export function loadCellImage(
  gridId: string,
  cellIndex: number,
  maxSide?: number,
): Promise<HTMLImageElement> {
  const key = `${gridId}|${cellIndex}|${maxSide ?? 'full'}`;
  let entry = cache.get(key);
  if (!entry) {
    entry = api()
      .call('grid.cellImage', { gridId, cellIndex, ...(maxSide !== undefined ? { maxSide } : {}) })
      .then((result) => decodePng(result.png));
    entry.catch(() => cache.delete(key));
    cache.set(key, entry);
    if (cache.size > MAX_ENTRIES) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
  }
  return entry;
}

/** A done cell's decoded picture, or null while it loads (or while the cell is not done). */
export function useCellImage(
  gridId: string,
  cellIndex: number,
  done: boolean,
  maxSide?: number,
): HTMLImageElement | null {
  const [image, setImage] = useState<HTMLImageElement | null>(null);
  useEffect(() => {
    setImage(null);
    if (!done) return;
    let live = true;
    loadCellImage(gridId, cellIndex, maxSide).then(
      (loaded) => {
        if (live) setImage(loaded);
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [gridId, cellIndex, done, maxSide]);
  return image;
}
