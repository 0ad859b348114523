// The 3D θ explorer: yaw, pitch, roll, scale and translation sliders compose a 3x4 θ; the
// volume is warped with it and summed along depth here in the browser (so it works in the
// static book). Left: the projection the network would read. Right: the input volume in an
// oblique view, with the sampling box T_θ(cube) and the line of sight of the projection.
import { putGray, toUint8 } from "./warp.js";
import { decomposeTheta3d, obliqueView, projectWarped, samplingBox, theta3dFrom } from "./volume.js";
import { element, fixed, outputAndInput, saveChanges, sliderRow } from "./ui.js";

const DEG = 180 / Math.PI;
const angle = (name, label, limit) => ({
  name, label, min: -limit, max: limit, step: 1,
  toSlider: (v) => v * DEG, fromSlider: (v) => v / DEG, format: (v) => fixed(v * DEG, 0) + "°",
});
const PARAMS = [
  angle("yaw", "yaw (°)", 180),
  angle("pitch", "pitch (°)", 90),
  angle("roll", "roll (°)", 180),
  { name: "scale", label: "scale", min: 0.3, max: 2, step: 0.01 },
  { name: "tx", label: "t<sub>x</sub>", min: -1, max: 1, step: 0.01 },
  { name: "ty", label: "t<sub>y</sub>", min: -1, max: 1, step: 0.01 },
  { name: "tz", label: "t<sub>z</sub>", min: -1, max: 1, step: 0.01 },
];
const BOX = 260; // side of the oblique view, in screen pixels

function render({ model, el }) {
  const root = element("div", "stn-widget stn-volume-explorer");
  const { figures, output, input } = outputAndInput(
    "projection: V = U sampled at T_θ(G), summed over depth", "U, the sampling box, the line of sight (drag to turn)");
  // the oblique view's camera (not part of θ): from the front, to the right and above; dragging turns it
  const camera = { azimuth: 35 / DEG, elevation: 25 / DEG };
  let view = obliqueView(camera.azimuth, camera.elevation);
  let params = decomposeTheta3d(model.get("theta"));
  let changing = false;

  const setTheta = (theta) => {
    changing = true;
    model.set("theta", theta);
    saveChanges(model);
    changing = false;
    draw();
  };
  const sliders = PARAMS.map((spec) => {
    const toSlider = spec.toSlider || ((v) => v);
    const fromSlider = spec.fromSlider || ((v) => v);
    const slider = sliderRow({
      label: spec.label, name: spec.name, min: spec.min, max: spec.max, step: spec.step,
      value: toSlider(params[spec.name]),
      format: spec.format ? (v) => spec.format(fromSlider(v)) : undefined,
      onInput: (v) => {
        params = { ...params, [spec.name]: fromSlider(v) };
        setTheta(theta3dFrom(params));
      },
    });
    return { ...slider, toSlider };
  });
  const box = element("fieldset", "stn-sliders stn-interpretable");
  box.append(element("legend", "", "θ = [scale · R_y(yaw) R_x(pitch) R_z(roll) | t]"), ...sliders.map((s) => s.row));
  const matrix = element("pre", "stn-theta-matrix");
  const reset = element("button", "stn-reset", "reset to the identity");
  reset.type = "button";
  reset.addEventListener("click", () => {
    params = { yaw: 0, pitch: 0, roll: 0, scale: 1, tx: 0, ty: 0, tz: 0 };
    sliders.forEach((s, k) => s.set(s.toSlider(params[PARAMS[k].name])));
    setTheta(theta3dFrom(params));
  });
  const controls = element("div", "stn-controls");
  controls.append(box, matrix);
  root.append(figures, controls, reset);
  el.append(root);

  function drawProjection(vol, depth, height, width, theta) {
    const norm = model.get("norm");
    const sums = projectWarped(vol, depth, height, width, theta);
    const gray = new Float32Array(width * height);
    for (let k = 0; k < gray.length; k++) gray[k] = Math.min(255, sums[k] / norm);
    putGray(output, gray, width, height);
    const zoom = model.get("zoom");
    output.style.width = `${width * zoom}px`;
    output.style.height = `${height * zoom}px`;
  }

  function drawOblique(vol, depth, height, width, theta) {
    input.width = BOX;
    input.height = BOX;
    const ctx = input.getContext("2d");
    ctx.fillStyle = "#3b3b46";
    ctx.fillRect(0, 0, BOX, BOX);
    const fit = BOX / 4.4; // the cube and a box scaled up to 2 fit
    const toCanvas = (p) => {
      const [u, v] = view(p);
      return [BOX / 2 + u * fit, BOX / 2 + v * fit];
    };
    const polyline = (points, colour, width = 1) => {
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.beginPath();
      points.forEach((p, k) => {
        const [cx, cy] = toCanvas(p);
        if (k === 0) ctx.moveTo(cx, cy);
        else ctx.lineTo(cx, cy);
      });
      ctx.stroke();
    };
    const unit = samplingBox([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]);
    unit.edges.forEach(([p, q]) => polyline([unit.corners[p], unit.corners[q]], "rgba(255,255,255,0.35)"));
    // the bright voxels of U, back to front, nearer ones brighter
    const points = [];
    for (let z = 0; z < depth; z++) for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
      const v = vol[(z * height + y) * width + x];
      if (v > 96) points.push([(2 * x + 1) / width - 1, (2 * y + 1) / height - 1, (2 * z + 1) / depth - 1, v]);
    }
    points.sort((p, q) => view(q)[2] - view(p)[2]);
    for (const [x, y, z, v] of points) {
      const [cx, cy] = toCanvas([x, y, z]);
      ctx.fillStyle = `rgba(235,235,235,${(0.25 + 0.5 * v / 255).toFixed(3)})`;
      ctx.fillRect(cx - 1.3, cy - 1.3, 2.6, 2.6);
    }
    // the sampling box: its front face (output z = -1, where each line of sight starts) bold, its back face faint
    const sampled = samplingBox(theta);
    sampled.edges.forEach(([p, q]) => {
      const front = p < 4 && q < 4;
      const back = p >= 4 && q >= 4;
      const colour = back ? "rgba(255,170,40,0.45)" : "rgba(255,170,40,0.95)";
      polyline([sampled.corners[p], sampled.corners[q]], colour, front ? 2.5 : 1.25);
    });
    // the line of sight: the output's depth axis through its centre, from front (z = -1) to back
    const centre = theta.map((row) => row[3]);
    const sight = theta.map((row) => row[2]);
    const from = centre.map((c, i) => c - 1.4 * sight[i]);
    const to = centre.map((c, i) => c + 1.4 * sight[i]);
    polyline([from, to], "#35c3ff", 2);
    const [hx, hy] = toCanvas(to);
    ctx.fillStyle = "#35c3ff";
    ctx.beginPath();
    ctx.arc(hx, hy, 3.5, 0, 2 * Math.PI);
    ctx.fill();
  }

  function draw() {
    const [depth, height, width] = [model.get("depth"), model.get("height"), model.get("width")];
    const vol = toUint8(model.get("volume"));
    if (vol.length !== depth * height * width) return;
    const theta = model.get("theta");
    drawProjection(vol, depth, height, width, theta);
    drawOblique(vol, depth, height, width, theta);
    matrix.textContent = "θ =\n" + theta.map((row) => row.map((v) => fixed(v, 2).padStart(6)).join(" ")).join("\n");
    root.dataset.theta = JSON.stringify(theta);
    root.stn = { depth, height, width, theta, camera: { ...camera } };
  }

  let drag = null;
  input.style.cursor = "grab";
  input.style.touchAction = "none";
  input.addEventListener("pointerdown", (event) => {
    drag = { x: event.clientX, y: event.clientY, ...camera };
    input.setPointerCapture(event.pointerId);
  });
  input.addEventListener("pointermove", (event) => {
    if (drag === null) return;
    camera.azimuth = drag.azimuth + (event.clientX - drag.x) / 100;
    camera.elevation = Math.max(-1.5, Math.min(1.5, drag.elevation - (event.clientY - drag.y) / 100));
    view = obliqueView(camera.azimuth, camera.elevation);
    draw();
  });
  const release = () => {
    drag = null;
  };
  input.addEventListener("pointerup", release);
  input.addEventListener("pointercancel", release);

  const onTheta = () => {
    if (changing) return;
    params = decomposeTheta3d(model.get("theta"));
    sliders.forEach((s, k) => s.set(s.toSlider(params[PARAMS[k].name])));
    draw();
  };
  model.on("change:theta", onTheta);
  model.on("change:volume", draw);
  model.on("change:zoom", draw);
  model.on("change:norm", draw);
  draw();
  return () => {
    model.off("change:theta", onTheta);
    model.off("change:volume", draw);
    model.off("change:zoom", draw);
    model.off("change:norm", draw);
  };
}

export default { render };
