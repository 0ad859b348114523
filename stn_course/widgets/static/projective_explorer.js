// The corner explorer: drag the four points of the input that the output's corners sample;
// the homography through them (8 parameters) warps the image, here in the browser, with the
// same maths as stn_course.grid.projective_grid and stn_course.sampler.
import { drawGridOverlay, frameOutline, projectiveSource, putGray, samplingGrid, toUint8, warpGray } from "./warp.js";
import { element, fixed, outputAndInput, saveChanges } from "./ui.js";
import { homographyFromPoints } from "./linalg.js";
import { attachDrag, drawHandles, overlayMapping } from "./handles.js";

const UNIT = [[-1, -1], [1, -1], [1, 1], [-1, 1]]; // output corners: top-left, top-right, bottom-right, bottom-left
const PRESETS = {
  identity: UNIT,
  "tilt back": [[-0.6, -1], [0.6, -1], [1, 1], [-1, 1]],
  "turn left": [[-1, -1], [1, -0.65], [1, 0.65], [-1, 1]],
  "affine: rotate 30°": UNIT.map(([x, y]) => [Math.cos(Math.PI / 6) * x - 0.5 * y, 0.5 * x + Math.cos(Math.PI / 6) * y]),
};

function render({ model, el }) {
  const root = element("div", "stn-widget stn-projective-explorer");
  const { figures, output, input } = outputAndInput("output V: U sampled at the projective grid", "input U: drag the red corners");
  const readout = element("pre", "stn-readout");
  const buttons = element("div", "stn-buttons");
  Object.entries(PRESETS).forEach(([name, corners]) => {
    const b = element("button", "stn-preset", name);
    b.type = "button";
    b.dataset.preset = name;
    b.addEventListener("click", () => setCorners(corners.map((p) => p.slice()), true));
    buttons.append(b);
  });
  root.append(figures, buttons, readout);
  el.append(root);

  let active = -1;
  let status = "";
  const view = () => ({ width: model.get("width"), height: model.get("height"), zoom: model.get("zoom"), margin: model.get("margin") });

  function setCorners(corners, save) {
    model.set("corners", corners);
    if (save) saveChanges(model);
    draw();
  }

  function draw() {
    const { width, height, zoom } = view();
    const src = toUint8(model.get("image"));
    if (src.length !== width * height) return;
    const corners = model.get("corners");
    let H;
    try {
      H = homographyFromPoints(UNIT, corners);
      status = "";
    } catch (err) {
      status = "three corners on a line: no homography";
      H = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
    }
    const sourceOf = projectiveSource(H);
    putGray(output, warpGray(src, width, height, width, height, sourceOf), width, height);
    output.style.width = `${width * zoom}px`;
    output.style.height = `${height * zoom}px`;
    const step = Math.max(1, Math.ceil(Math.max(width, height) / model.get("grid_lines")));
    drawGridOverlay(input, src, view(), samplingGrid(width, height, sourceOf, step), { frame: frameOutline(sourceOf) });
    drawHandles(input, corners, overlayMapping(view()), { active });
    const f = (v) => fixed(v, 3).padStart(6);
    readout.textContent =
      "H (target → source), h33 = 1:\n" + H.map((row) => row.map(f).join("  ")).join("\n") + (status ? `\n${status}` : "");
    root.dataset.corners = JSON.stringify(corners);
    root.dataset.homography = JSON.stringify(H);
    root.stn = { corners, homography: H, handles: corners.map(([x, y]) => overlayMapping(view()).toCanvas(x, y)) };
  }

  const detach = attachDrag(input, {
    points: () => model.get("corners"),
    mapping: () => overlayMapping(view()),
    onMove: (k, x, y) => {
      active = k;
      const corners = model.get("corners").map((p) => p.slice());
      corners[k] = [x, y];
      setCorners(corners, false);
    },
    onEnd: () => {
      active = -1;
      setCorners(model.get("corners"), true);
    },
  });

  const events = ["change:corners", "change:image", "change:zoom", "change:grid_lines", "change:margin"];
  events.forEach((e) => model.on(e, draw));
  draw();
  return () => {
    detach();
    events.forEach((e) => model.off(e, draw));
  };
}

export default { render };
