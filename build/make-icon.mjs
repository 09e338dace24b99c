/* global Buffer, URL */
// Draws resources/icon.png (1024×1024): a half-filled circle on a dark rounded square. Run: node build/make-icon.mjs
import sharp from 'sharp';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1024" height="1024" viewBox="0 0 1024 1024">
  <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#4c9ffe"/><stop offset="1" stop-color="#2f6fc0"/></linearGradient></defs>
  <rect x="64" y="64" width="896" height="896" rx="200" fill="#1f2023"/>
  <circle cx="512" cy="512" r="300" fill="none" stroke="url(#g)" stroke-width="56"/>
  <path d="M512 212 A300 300 0 0 1 512 812 Z" fill="url(#g)"/>
  <path d="M700 300 l40 -90 l40 90 l90 40 l-90 40 l-40 90 l-40 -90 l-90 -40 z" fill="#f5c542"/>
</svg>`;

await sharp(Buffer.from(svg))
  .png()
  .toFile(new URL('../resources/icon.png', import.meta.url).pathname);
console.log('wrote resources/icon.png');
