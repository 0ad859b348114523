// The θ explorer: six raw sliders for θ and six interpretable ones (angle, scale x/y, shear,
// tx, ty) kept in sync; the output image V warped here in the browser (so it works in the
// static book) and, beside it, the input U with the sampling grid T_θ(G) drawn over it.
import { affineSource, drawGridOverlay, frameOutline, putGray, samplingGrid, toUint8, warpGray } from "./warp.js";
import { decomposeTheta, thetaFrom } from "./geometry.js";
import { element, fixed, outputAndInput, sliderRow } from "./ui.js";

const RAW = [
  { name: "t00", label: "θ<sub>11</sub>", r: 0, c: 0 },
  { name: "t01", label: "θ<sub>12</sub>", r: 0, c: 1 },
  { name: "t02", label: "θ<sub>13</sub>", r: 0, c: 2 },
  { name: "t10", label: "θ<sub>21</sub>", r: 1, c: 0 },
  { name: "t11", label: "θ<sub>22</sub>", r: 1, c: 1 },
  { name: "t12", label: "θ<sub>23</sub>", r: 1, c: 2 },
];

const DEG = 180 / Math.PI;
const INTERPRETABLE = [
  { name: "angle", label: "angle (°)", min: -180, max: 180, step: 1, toSlider: (v) => v * DEG, fromSlider: (v) => v / DEG, format: (v) => fixed(v * DEG, 0) + "°" },
  { name: "scaleX", label: "scale x", min: 0.1, max: 2, step: 0.01 },
  { name: "scaleY", label: "scale y", min: 0.1, max: 2, step: 0.01 },
  { name: "shear", label: "shear", min: -1, max: 1, step: 0.01 },
  { name: "tx", label: "t<sub>x</sub>", min: -1, max: 1, step: 0.01 },
  { name: "ty", label: "t<sub>y</sub>", min: -1, max: 1, step: 0.01 },
];

function render({ model, el }) {
  const root = element("div", "stn-widget stn-theta-explorer");
  const { figures, output, input } = outputAndInput("output V: U sampled at T_θ(G)", "input U and the sampling grid T_θ(G)");

  const size = () => ({ width: model.get("width"), height: model.get("height") });
  const aspect = () => size().width / size().height;
  let params = decomposeTheta(model.get("theta"), aspect());
  let changing = null; // which slider set is driving the current change

  const setTheta = (theta, source) => {
    changing = source;
    model.set("theta", theta);
    try {
      model.save_changes(); // a no-op without a kernel (static page)
    } catch (err) {
      /* no comm: the static book */
    }
    changing = null;
    refresh(source);
  };

  const rawSliders = RAW.map((spec) =>
    sliderRow({
      label: spec.label, name: spec.name, min: -2, max: 2, step: 0.01,
      value: model.get("theta")[spec.r][spec.c],
      onInput: (v) => {
        const theta = model.get("theta").map((row) => row.slice());
        theta[spec.r][spec.c] = v;
        setTheta(theta, "raw");
      },
    }),
  );
  const niceSliders = INTERPRETABLE.map((spec) => {
    const toSlider = spec.toSlider || ((v) => v);
    const fromSlider = spec.fromSlider || ((v) => v);
    const slider = sliderRow({
      label: spec.label, name: spec.name, min: spec.min, max: spec.max, step: spec.step,
      value: toSlider(params[spec.name]),
      format: spec.format ? (v) => spec.format(fromSlider(v)) : undefined,
      onInput: (v) => {
        params = { ...params, [spec.name]: fromSlider(v) };
        setTheta(thetaFrom(params, aspect()), "interpretable");
      },
    });
    return { ...slider, toSlider };
  });

  const rawBox = element("fieldset", "stn-sliders stn-raw");
  rawBox.append(element("legend", "", "θ, entry by entry"), ...rawSliders.map((s) => s.row));
  const niceBox = element("fieldset", "stn-sliders stn-interpretable");
  niceBox.append(element("legend", "", "θ = R · Shear · Scale, then translate"), ...niceSliders.map((s) => s.row));
  const reset = element("button", "stn-reset", "reset to the identity");
  reset.type = "button";
  reset.addEventListener("click", () => {
    params = { angle: 0, scaleX: 1, scaleY: 1, shear: 0, tx: 0, ty: 0 };
    setTheta(thetaFrom(params, aspect()), "reset");
  });
  const controls = element("div", "stn-controls");
  controls.append(rawBox, niceBox);
  root.append(figures, controls, reset);
  el.append(root);

  function draw() {
    const { width, height } = size();
    const src = toUint8(model.get("image"));
    if (src.length !== width * height) return;
    const theta = model.get("theta");
    const sourceOf = affineSource(theta);
    const zoom = model.get("zoom");
    putGray(output, warpGray(src, width, height, width, height, sourceOf), width, height);
    output.style.width = `${width * zoom}px`;
    output.style.height = `${height * zoom}px`;
    const step = Math.max(1, Math.ceil(Math.max(width, height) / model.get("grid_lines")));
    drawGridOverlay(input, src, { width, height, zoom, margin: model.get("margin") }, samplingGrid(width, height, sourceOf, step), {
      frame: frameOutline(sourceOf),
    });
    root.dataset.theta = JSON.stringify(theta);
    root.stn = { src, width, height, theta };
  }

  function refresh(source) {
    const theta = model.get("theta");
    if (source !== "raw") rawSliders.forEach((s, k) => s.set(theta[RAW[k].r][RAW[k].c]));
    if (source !== "interpretable") {
      if (source !== "reset") params = decomposeTheta(theta, aspect());
      niceSliders.forEach((s, k) => s.set(s.toSlider(params[INTERPRETABLE[k].name])));
    }
    draw();
  }

  const onTheta = () => {
    if (changing === null) refresh("model");
  };
  const onImage = () => refresh("model");
  model.on("change:theta", onTheta);
  model.on("change:image", onImage);
  model.on("change:zoom", draw);
  model.on("change:grid_lines", draw);
  model.on("change:margin", draw);
  draw();
  return () => {
    model.off("change:theta", onTheta);
    model.off("change:image", onImage);
    model.off("change:zoom", draw);
    model.off("change:grid_lines", draw);
    model.off("change:margin", draw);
  };
}

export default { render };
