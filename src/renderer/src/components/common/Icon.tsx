/** A handful of inline SVG icons (no icon font, nothing fetched). */
const PATHS: Record<string, string> = {
  eye: 'M12 5C6.5 5 2.7 9.4 1.5 12c1.2 2.6 5 7 10.5 7s9.3-4.4 10.5-7C21.3 9.4 17.5 5 12 5zm0 11a4 4 0 110-8 4 4 0 010 8z',
  eyeOff:
    'M2 4.3L3.3 3 21 20.7 19.7 22l-3.1-3.1A11 11 0 0112 19C6.5 19 2.7 14.6 1.5 12a13.8 13.8 0 014.3-5.4L2 4.3zM12 5c5.5 0 9.3 4.4 10.5 7a13.6 13.6 0 01-3.2 4.4L16 13.2A4 4 0 0010.8 8L8.6 5.8A11 11 0 0112 5z',
  trash: 'M9 3h6l1 2h4v2H4V5h4l1-2zM6 9h12l-1 12H7L6 9z',
  undo: 'M7 7V3L1 9l6 6v-4h7a5 5 0 010 10h-2v2h2a7 7 0 000-14H7z',
  redo: 'M17 7V3l6 6-6 6v-4h-7a5 5 0 000 10h2v2h-2a7 7 0 010-14h7z',
  open: 'M3 6a2 2 0 012-2h5l2 2h7a2 2 0 012 2v1H3V6zm0 5h19l-2 8H3v-8z',
  save: 'M5 3h11l4 4v12a2 2 0 01-2 2H6a2 2 0 01-2-2V5a2 2 0 011-2zm2 2v5h9V5H7zm5 8a3 3 0 100 6 3 3 0 000-6z',
  export: 'M12 3l5 5h-3v6h-4V8H7l5-5zM4 16h2v3h12v-3h2v5H4v-5z',
  brush:
    'M20.7 4.6l-1.3-1.3a1 1 0 00-1.4 0L9 12.3l2.7 2.7 9-9a1 1 0 000-1.4zM7.5 14C5 14 4 16 4 18c0 1.5-1 2-2 2 1 1.5 3 2 5 2 3 0 4.5-2 4.5-4.5L7.5 14z',
  hand: 'M8 11V5a1.5 1.5 0 013 0v5h.5V3.5a1.5 1.5 0 013 0V10h.5V5a1.5 1.5 0 013 0v9c0 4-3 7-7 7-3 0-4.5-1.5-6-4l-2.5-4.5a1.5 1.5 0 012.5-1.6L8 14v-3z',
  compare: 'M11 2h2v20h-2V2zM4 5h5v2H5v10h4v2H4V5zm11 0h5v14h-5v-2h3V7h-3V5z',
  fit: 'M3 3h6v2H5v4H3V3zm12 0h6v6h-2V5h-4V3zM3 15h2v4h4v2H3v-6zm16 0h2v6h-6v-2h4v-4z',
  zoomIn: 'M10 3a7 7 0 015.6 11.2l5.2 5.2-1.4 1.4-5.2-5.2A7 7 0 1110 3zm-1 3v3H6v2h3v3h2v-3h3V9h-3V6H9z',
  zoomOut: 'M10 3a7 7 0 015.6 11.2l5.2 5.2-1.4 1.4-5.2-5.2A7 7 0 1110 3zM6 9v2h8V9H6z',
  gear: 'M12 8a4 4 0 100 8 4 4 0 000-8zm9 5.5v-3l-2.6-.6a7 7 0 00-.7-1.6l1.4-2.3-2.1-2.1-2.3 1.4a7 7 0 00-1.6-.7L12.5 2h-3l-.6 2.6a7 7 0 00-1.6.7L5 3.9 2.9 6l1.4 2.3a7 7 0 00-.7 1.6L1 10.5v3l2.6.6c.2.6.4 1.1.7 1.6L2.9 18 5 20.1l2.3-1.4c.5.3 1 .5 1.6.7l.6 2.6h3l.6-2.6c.6-.2 1.1-.4 1.6-.7l2.3 1.4 2.1-2.1-1.4-2.3c.3-.5.5-1 .7-1.6l2.6-.6z',
  chip: 'M7 2h2v3h2V2h2v3h2V2h2v3h2v2h3v2h-3v2h3v2h-3v2h3v2h-3v2h-2v3h-2v-3h-2v3h-2v-3H9v3H7v-3H5v-2H2v-2h3v-2H2v-2h3V9H2V7h3V5h2V2zm0 5v10h10V7H7z',
  send: 'M2 21l21-9L2 3v7l15 2-15 2v7z',
  stop: 'M6 6h12v12H6z',
  x: 'M6.4 5L12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4 6.4 5z',
  dice: 'M5 3h14a2 2 0 012 2v14a2 2 0 01-2 2H5a2 2 0 01-2-2V5a2 2 0 012-2zm2.5 3a1.5 1.5 0 100 3 1.5 1.5 0 000-3zm9 0a1.5 1.5 0 100 3 1.5 1.5 0 000-3zM12 10.5a1.5 1.5 0 100 3 1.5 1.5 0 000-3zM7.5 15a1.5 1.5 0 100 3 1.5 1.5 0 000-3zm9 0a1.5 1.5 0 100 3 1.5 1.5 0 000-3z',
  rerun: 'M12 4a8 8 0 017.7 6h-2.1A6 6 0 106 12H3l4-4 4 4H8a4 4 0 104-4V4z',
  invert: 'M12 2a10 10 0 100 20 10 10 0 000-20zm0 2v16a8 8 0 010-16z',
  grid: 'M3 3h8v8H3V3zm2 2v4h4V5H5zm8-2h8v8h-8V3zm2 2v4h4V5h-4zM3 13h8v8H3v-8zm2 2v4h4v-4H5zm8-2h8v8h-8v-8zm2 2v4h4v-4h-4z',
  drag: 'M8 5h2v2H8V5zm6 0h2v2h-2V5zM8 11h2v2H8v-2zm6 0h2v2h-2v-2zm-6 6h2v2H8v-2zm6 0h2v2h-2v-2z',
};

export type IconName = keyof typeof PATHS;

export function Icon({ name, size = 16, title }: { name: IconName; size?: number; title?: string }) {
  return (
    <svg
      width={size}
      height={size}
      viewBox="0 0 24 24"
      aria-hidden={title ? undefined : true}
      role={title ? 'img' : undefined}
      className="icon"
    >
      {title && <title>{title}</title>}
      <path d={PATHS[name]} fill="currentColor" />
    </svg>
  );
}
