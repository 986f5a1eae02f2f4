/** A top-down SVG (x forward = up, y left = left) of the ego history and sampled paths, metres in the t0 frame. */
export function trajectorySvg(history: readonly [number, number][], paths: readonly (readonly [number, number][])[], size = 480): string {
  const all = [...history, ...paths.flat(), [0, 0] as [number, number]];
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const span = Math.max(10, Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys)) * 1.15;
  const cx = (Math.max(...xs) + Math.min(...xs)) / 2;
  const cy = (Math.max(...ys) + Math.min(...ys)) / 2;
  const scale = size / span;
  // Screen: right = -y, down = -x.
  const pt = ([x, y]: readonly [number, number]): string => `${(size / 2 - (y - cy) * scale).toFixed(1)},${(size / 2 - (x - cx) * scale).toFixed(1)}`;
  const colors = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
  const line = (p: readonly (readonly [number, number])[], color: string, dash = ''): string =>
    `<polyline fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${p.map(pt).join(' ')}"/>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}">`,
    `<rect width="100%" height="100%" fill="#fafafa"/>`,
    line(history, '#555', '4 3'),
    ...paths.map((p, k) => line([[0, 0], ...p], colors[k % colors.length] as string)),
    `<circle cx="${pt([0, 0]).split(',')[0]}" cy="${pt([0, 0]).split(',')[1]}" r="4" fill="#000"/>`,
    `<text x="8" y="18" font-family="sans-serif" font-size="12">ego history (dashed), ${paths.length} sampled path(s); 1 m = ${scale.toFixed(1)} px</text>`,
    '</svg>',
  ].join('\n');
}
