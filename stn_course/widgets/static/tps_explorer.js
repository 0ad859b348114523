// The control-point explorer: drag where each of the K control points of a thin-plate
// spline samples the input; the spline through them warps the image, here in the browser,
// with the same maths as stn_course.grid.tps_grid and stn_course.sampler.
import { drawGridOverlay, frameOutline, putGray, samplingGrid, toUint8, warpGray } from "./warp.js";
import { element, fixed, outputAndInput, saveChanges, sliderRow } from "./ui.js";
import { tpsControlPoints, tpsSource } from "./linalg.js";
import { attachDrag, drawHandles, overlayMapping } from "./handles.js";

function render({ model, el }) {
  const root = element("div", "stn-widget stn-tps-explorer");
  const { figures, output, input } = outputAndInput("output V: U sampled at the TPS grid", "input U: drag the red control points");
  const readout = element("pre", "stn-readout");
  const buttons = element("div", "stn-buttons");
  const reset = element("button", "stn-reset", "reset to the identity");
  reset.type = "button";
  reset.addEventListener("click", () => setOffsets(ctrl().map(() => [0, 0]), true));
  const random = element("button", "stn-random", "random warp");
  random.type = "button";
  random.addEventListener("click", () => {
    const sigma = model.get("sigma");
    const gauss = () => Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
    setOffsets(ctrl().map(() => [sigma * gauss(), sigma * gauss()]), true);
  });
  const sigmaSlider = sliderRow({
    label: "random σ", name: "sigma", min: 0.02, max: 0.5, step: 0.01, value: model.get("sigma"),
    onInput: (v) => {
      model.set("sigma", v);
      try {
        model.save_changes();
      } catch (err) {
        /* static page */
      }
    },
  });
  buttons.append(reset, random, sigmaSlider.row);
  root.append(figures, buttons, readout);
  el.append(root);

  let active = -1;
  const ctrl = () => tpsControlPoints(model.get("num_control_points"));
  const view = () => ({ width: model.get("width"), height: model.get("height"), zoom: model.get("zoom"), margin: model.get("margin") });
  const handles = () => ctrl().map(([x, y], k) => [x + model.get("offsets")[k][0], y + model.get("offsets")[k][1]]);

  function setOffsets(offsets, save) {
    model.set("offsets", offsets);
    if (save) saveChanges(model);
    draw();
  }

  function draw() {
    const { width, height, zoom } = view();
    const src = toUint8(model.get("image"));
    const offsets = model.get("offsets");
    const points = ctrl();
    if (src.length !== width * height || offsets.length !== points.length) return;
    const sourceOf = tpsSource(points, offsets);
    putGray(output, warpGray(src, width, height, width, height, sourceOf), width, height);
    output.style.width = `${width * zoom}px`;
    output.style.height = `${height * zoom}px`;
    const step = Math.max(1, Math.ceil(Math.max(width, height) / model.get("grid_lines")));
    drawGridOverlay(input, src, view(), samplingGrid(width, height, sourceOf, step), { frame: frameOutline(sourceOf) });
    drawHandles(input, handles(), overlayMapping(view()), { active, anchors: points, radius: 5 });
    const largest = Math.max(...offsets.map(([dx, dy]) => Math.hypot(dx, dy)));
    readout.textContent = `${points.length} control points (blue: where they sit in the output; red: where they sample the input)\n` +
      `largest offset ${fixed(largest, 3)} (normalised units)`;
    root.dataset.offsets = JSON.stringify(offsets);
    sigmaSlider.set(model.get("sigma"));
    root.stn = { offsets, handles: handles().map(([x, y]) => overlayMapping(view()).toCanvas(x, y)) };
  }

  const detach = attachDrag(input, {
    points: handles,
    mapping: () => overlayMapping(view()),
    onMove: (k, x, y) => {
      active = k;
      const offsets = model.get("offsets").map((p) => p.slice());
      const c = ctrl()[k];
      offsets[k] = [x - c[0], y - c[1]];
      setOffsets(offsets, false);
    },
    onEnd: () => {
      active = -1;
      setOffsets(model.get("offsets"), true);
    },
  });

  const events = ["change:offsets", "change:image", "change:zoom", "change:grid_lines", "change:margin", "change:num_control_points", "change:sigma"];
  events.forEach((e) => model.on(e, draw));
  draw();
  return () => {
    detach();
    events.forEach((e) => model.off(e, draw));
  };
}

export default { render };
