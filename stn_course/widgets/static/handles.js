// Draggable handles on the input canvas of a widget drawn by drawGridOverlay (warp.js): the
// projective corners and the TPS control points. Everything in normalised coordinates
// (x right, y down, the image spanning [-1, 1]); the canvas mapping follows drawGridOverlay.

/** Maps between normalised coordinates and the canvas of drawGridOverlay for `view` = {width, height, zoom, margin}. */
export function overlayMapping(view) {
  const { width, height, zoom, margin } = view;
  const boxW = width * zoom;
  const boxH = height * zoom;
  const padX = (margin * boxW) / 2;
  const padY = (margin * boxH) / 2;
  return {
    toCanvas: (x, y) => [padX + ((x + 1) / 2) * boxW, padY + ((y + 1) / 2) * boxH],
    fromCanvas: (cx, cy) => [((cx - padX) / boxW) * 2 - 1, ((cy - padY) / boxH) * 2 - 1],
    limit: 1 + margin, // a handle may go as far as the edge of the drawn margin
  };
}

/** Draw round handles at normalised `points`; `anchors` (optional) draws a line from each anchor to its handle. */
export function drawHandles(canvas, points, mapping, { active = -1, anchors = null, radius = 6, color = "#ff5a36" } = {}) {
  const ctx = canvas.getContext("2d");
  if (anchors) {
    ctx.strokeStyle = "rgba(120, 220, 255, 0.9)";
    ctx.fillStyle = "rgba(120, 220, 255, 0.9)";
    ctx.lineWidth = 1.5;
    anchors.forEach(([ax, ay], k) => {
      const [x0, y0] = mapping.toCanvas(ax, ay);
      const [x1, y1] = mapping.toCanvas(points[k][0], points[k][1]);
      ctx.fillRect(x0 - 2, y0 - 2, 4, 4);
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      ctx.stroke();
    });
  }
  points.forEach(([x, y], k) => {
    const [cx, cy] = mapping.toCanvas(x, y);
    ctx.beginPath();
    ctx.arc(cx, cy, k === active ? radius + 2 : radius, 0, 2 * Math.PI);
    ctx.fillStyle = color;
    ctx.fill();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "white";
    ctx.stroke();
  });
}

/** Canvas pixel coordinates of a pointer event (the canvas may be scaled by CSS). */
export function eventToCanvas(canvas, event) {
  const rect = canvas.getBoundingClientRect();
  return [((event.clientX - rect.left) * canvas.width) / rect.width, ((event.clientY - rect.top) * canvas.height) / rect.height];
}

/**
 * Make the handles of `canvas` draggable. `points()` returns the handles' normalised
 * positions, `mapping()` the current overlayMapping; `onMove(k, x, y)` is called with the
 * new normalised position of handle k (clamped to the drawn area) while it is dragged, and
 * `onEnd(k)` once it is let go. Returns a function that removes the listeners.
 */
export function attachDrag(canvas, { points, mapping, onMove, onEnd = () => {}, grab = 12 }) {
  let dragging = -1;
  const nearest = (cx, cy) => {
    const map = mapping();
    let best = -1;
    let bestD = grab * grab;
    points().forEach(([x, y], k) => {
      const [hx, hy] = map.toCanvas(x, y);
      const d = (hx - cx) ** 2 + (hy - cy) ** 2;
      if (d <= bestD) {
        best = k;
        bestD = d;
      }
    });
    return best;
  };
  const down = (event) => {
    const [cx, cy] = eventToCanvas(canvas, event);
    dragging = nearest(cx, cy);
    if (dragging < 0) return;
    event.preventDefault();
    if (canvas.setPointerCapture && event.pointerId !== undefined) {
      try {
        canvas.setPointerCapture(event.pointerId);
      } catch (err) {
        /* synthetic events have no capturable pointer */
      }
    }
  };
  const move = (event) => {
    if (dragging < 0) {
      const [cx, cy] = eventToCanvas(canvas, event);
      canvas.style.cursor = nearest(cx, cy) >= 0 ? "grab" : "default";
      return;
    }
    event.preventDefault();
    const map = mapping();
    const [cx, cy] = eventToCanvas(canvas, event);
    const [x, y] = map.fromCanvas(cx, cy);
    const clamp = (v) => Math.max(-map.limit, Math.min(map.limit, v));
    onMove(dragging, clamp(x), clamp(y));
  };
  const up = () => {
    if (dragging >= 0) onEnd(dragging);
    dragging = -1;
  };
  canvas.style.touchAction = "none";
  canvas.addEventListener("pointerdown", down);
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up);
  canvas.addEventListener("pointercancel", up);
  return () => {
    canvas.removeEventListener("pointerdown", down);
    canvas.removeEventListener("pointermove", move);
    canvas.removeEventListener("pointerup", up);
    canvas.removeEventListener("pointercancel", up);
  };
}
