// The openfsgan page: uploads, face picking, the job list (polled) and the verify tab.
// Plain browser JavaScript, no build step; it talks only to this server's /api.
"use strict";

const state = {
  info: null,
  uploads: { source: null, target: null },
  faces: { source: null, target: null },
  jobCards: new Map(),
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return data;
}

// Uploads with progress (fetch cannot report upload progress).
function uploadFile(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file, file.name);
    const request = new XMLHttpRequest();
    request.open("POST", path);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      let data = {};
      try { data = JSON.parse(request.responseText); } catch (_) { /* not JSON */ }
      if (request.status >= 200 && request.status < 300) resolve(data);
      else reject(new Error(data.error || `upload failed (${request.status})`));
    });
    request.addEventListener("error", () => reject(new Error("upload failed (network)")));
    request.send(form);
  });
}

function formatBytes(bytes) {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(1)} GB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} kB`;
}

function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// ---- source / target pickers -------------------------------------------------------------
function setupPicker(role) {
  const picker = document.getElementById(`${role}-picker`);
  const zone = picker.querySelector(".dropzone");
  const input = picker.querySelector("input[type=file]");
  input.addEventListener("change", () => {
    if (input.files.length) handleUpload(role, input.files[0]);
  });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragover");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragover"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragover");
    if (event.dataTransfer.files.length) handleUpload(role, event.dataTransfer.files[0]);
  });
}

async function handleUpload(role, file) {
  const picker = document.getElementById(`${role}-picker`);
  const status = picker.querySelector(".upload-status");
  const preview = picker.querySelector(".preview");
  const faces = picker.querySelector(".faces");
  state.uploads[role] = null;
  state.faces[role] = null;
  faces.replaceChildren();
  updateStartButton();
  status.className = "upload-status";
  const limit = state.info ? state.info.max_upload_bytes : Infinity;
  if (file.size > limit) {
    status.classList.add("error");
    status.textContent = `${file.name} is too large (${formatBytes(file.size)}; ` +
      `limit ${formatBytes(limit)}).`;
    return;
  }
  status.textContent = `Uploading ${file.name}…`;
  try {
    const upload = await uploadFile("/api/uploads", file, (fraction) => {
      status.textContent = fraction < 1
        ? `Uploading ${file.name}… ${Math.round(fraction * 100)} %`
        : `Looking for faces in ${file.name}…`;
    });
    state.uploads[role] = upload;
    preview.src = upload.preview_url;
    preview.alt = `${role} preview`;
    preview.hidden = false;
    picker.querySelector(".dropzone-text").hidden = true;
    const size = upload.kind === "video"
      ? `${upload.width}×${upload.height}, ${upload.frame_count} frames`
      : `${upload.width}×${upload.height}`;
    const found = upload.faces.length === 1 ? "1 face" : `${upload.faces.length} faces`;
    status.textContent = `${upload.name}: ${upload.kind}, ${size}, ${found}` +
      (upload.faces.length > 1 ? " — pick one" : "") + ".";
    if (upload.face_error) {
      status.classList.add("error");
      status.textContent += ` ${upload.face_error}`;
    }
    renderFaces(role, upload);
  } catch (error) {
    status.classList.add("error");
    status.textContent = `${file.name}: ${error.message}`;
  }
  updateStartButton();
}

function renderFaces(role, upload) {
  const container = document.querySelector(`#${role}-picker .faces`);
  container.replaceChildren();
  // the largest face is picked first; the user can choose another when there are several
  let largest = null;
  for (const face of upload.faces) {
    const area = (face.box[2] - face.box[0]) * (face.box[3] - face.box[1]);
    if (!largest || area > largest.area) largest = { face, area };
  }
  state.faces[role] = largest ? largest.face.track_id : null;
  for (const face of upload.faces) {
    const button = el("button", {
      type: "button", class: "face", role: "radio",
      "aria-checked": String(face.track_id === state.faces[role]),
      "data-track-id": String(face.track_id),
      title: `face ${face.number + 1} (track ${face.track_id})`,
      onclick: () => {
        state.faces[role] = face.track_id;
        for (const other of container.children) {
          other.setAttribute("aria-checked", String(other === button));
        }
      },
    }, el("img", { src: face.thumbnail_url, alt: `${role} face ${face.number + 1}` }),
    el("span", { text: `#${face.number + 1}` }));
    container.append(button);
  }
}

function updateStartButton() {
  const ready = state.uploads.source && state.uploads.target &&
    state.uploads.source.faces.length > 0 && state.uploads.target.faces.length > 0;
  document.getElementById("start").disabled = !ready;
}

function setupStages(stages) {
  const fieldset = document.getElementById("stages");
  for (const [stage, choices] of Object.entries(stages)) {
    const select = el("select", { name: stage, id: `stage-${stage}` });
    select.append(el("option", { value: "", text: "method's" }));
    for (const choice of choices) select.append(el("option", { value: choice, text: choice }));
    const label = el("label", { text: `${stage} ` });
    label.append(select);
    fieldset.append(label);
  }
}

async function startJob(event) {
  event.preventDefault();
  const status = document.getElementById("form-status");
  const labelOn = document.getElementById("label-on").checked;
  const maxFrames = document.getElementById("max-frames").value;
  const body = {
    source_upload: state.uploads.source.id,
    target_upload: state.uploads.target.id,
    method: document.getElementById("method").value,
    mode: document.getElementById("mode").value,
    source_face: state.faces.source,
    target_face: state.faces.target,
    watermark: document.getElementById("watermark").checked,
    watermark_profile: document.getElementById("watermark-robust").checked ? "robust" : "standard",
    label: labelOn ? (document.getElementById("label-text").value.trim() || null) : null,
    max_frames: maxFrames ? Number(maxFrames) : null,
  };
  // one implementation per stage, where chosen; otherwise the method's preset decides
  for (const select of document.querySelectorAll("#stages select")) {
    if (select.value) body[select.name] = select.value;
  }
  status.className = "muted";
  status.textContent = "Queuing…";
  try {
    const job = await api("POST", "/api/jobs", body);
    status.textContent = "Queued.";
    setTimeout(() => { if (status.textContent === "Queued.") status.textContent = ""; }, 2500);
    renderJob(job);
    schedulePoll(200);
  } catch (error) {
    status.className = "error";
    status.textContent = error.message;
  }
}

// ---- job list ----------------------------------------------------------------------------
function jobProgressText(job) {
  if (job.status === "queued") return job.resumes ? "queued (will resume)" : "waiting in queue";
  if (job.status === "running") {
    if (job.cancel_requested) return "cancelling…";
    if (!job.total) return "starting…";
    const pct = Math.round(100 * job.done / job.total);
    const eta = job.eta_s !== null ? ` · about ${formatSeconds(job.eta_s)} left` : "";
    return `${job.done} / ${job.total} (${pct} %)${eta}`;
  }
  if (job.status === "done") {
    const took = job.finished_at && job.started_at
      ? ` in ${formatSeconds(job.finished_at - job.started_at)}` : "";
    return `finished${took}`;
  }
  if (job.status === "failed") return job.error || "failed";
  return "cancelled";
}

function renderJob(job) {
  let card = state.jobCards.get(job.id);
  if (!card) {
    card = el("li", { class: "job", "data-job-id": job.id });
    const thumbs = el("div", { class: "thumbs" },
      el("img", { src: job.source_preview_url, alt: "source" }),
      el("span", { text: "→", "aria-hidden": "true" }),
      el("img", { src: job.target_preview_url, alt: "target" }));
    const body = el("div", { class: "body" },
      el("div", { class: "title" }),
      el("div", { class: "meta muted" }),
      el("progress", { max: "1" }),
      el("div", { class: "progress-text" }),
      el("div", { class: "actions" }));
    card.append(thumbs, body, el("div", { class: "result" }));
    card.dataset.status = "";
    document.getElementById("jobs").prepend(card);
    state.jobCards.set(job.id, card);
  }
  card.querySelector(".title").replaceChildren(
    document.createTextNode(`${job.source_name} → ${job.target_name}`),
    el("span", { class: `badge status ${job.status}`, text: job.status }));
  const stages = job.stages
    ? Object.entries(job.stages).map(([stage, choice]) => `${stage} ${choice}`).join(", ")
    : null;
  const options = [job.method, ...(stages ? [stages] : []), job.mode,
    job.watermark ? "watermarked" : "no watermark"];
  if (job.label) options.push(`label “${job.label}”`);
  if (job.source_face_shown) options.push(`source face #${job.source_face_shown}`);
  if (job.target_face_shown) options.push(`target face #${job.target_face_shown}`);
  if (job.max_frames) options.push(`first ${job.max_frames} frames`);
  if (job.resumes) options.push(`resumed ${job.resumes}×`);
  card.querySelector(".meta").textContent = options.join(" · ");
  const progress = card.querySelector("progress");
  if (job.status === "done") progress.value = 1;
  else if (job.fraction !== null) progress.value = job.fraction;
  else progress.removeAttribute("value");
  progress.hidden = job.status === "cancelled" || job.status === "failed";
  const text = card.querySelector(".progress-text");
  text.textContent = jobProgressText(job);
  text.className = `progress-text ${job.status === "failed" ? "error" : "muted"}`;

  if (card.dataset.status !== job.status) {
    card.dataset.status = job.status;
    const actions = card.querySelector(".actions");
    actions.replaceChildren();
    if (job.status === "queued" || job.status === "running") {
      actions.append(el("button", { type: "button", class: "cancel secondary", text: "Cancel",
        onclick: () => api("POST", `/api/jobs/${job.id}/cancel`).then(renderJob)
          .then(() => schedulePoll(200)).catch(showJobError(card)) }));
    } else {
      if (job.result_url) {
        actions.append(el("a", { class: "download", href: `${job.result_url}?download=1`,
          download: job.download_name, text: "Download" }));
      }
      actions.append(el("button", { type: "button", class: "delete secondary", text: "Delete",
        onclick: () => deleteJob(job.id).catch(showJobError(card)) }));
    }
    const result = card.querySelector(".result");
    result.replaceChildren();
    if (job.result_url) {
      result.append(job.result_kind === "video"
        ? el("video", { src: job.result_url, controls: true, preload: "metadata",
          class: "result-media" })
        : el("img", { src: job.result_url, alt: "result", class: "result-media" }));
    }
  }
  document.getElementById("no-jobs").hidden = state.jobCards.size > 0;
}

function showJobError(card) {
  return (error) => {
    const text = card.querySelector(".progress-text");
    text.className = "progress-text error";
    text.textContent = error.message;
  };
}

async function deleteJob(id) {
  await api("DELETE", `/api/jobs/${id}`);
  const card = state.jobCards.get(id);
  if (card) card.remove();
  state.jobCards.delete(id);
  document.getElementById("no-jobs").hidden = state.jobCards.size > 0;
}

let pollTimer = null;
function schedulePoll(delayMs) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(pollJobs, delayMs);
}

async function pollJobs() {
  let active = false;
  try {
    const { jobs } = await api("GET", "/api/jobs");
    const seen = new Set();
    for (const job of [...jobs].reverse()) {
      seen.add(job.id);
      renderJob(job);
      if (job.status === "queued" || job.status === "running") active = true;
    }
    for (const [id, card] of state.jobCards) {
      if (!seen.has(id)) { card.remove(); state.jobCards.delete(id); }
    }
    document.getElementById("no-jobs").hidden = state.jobCards.size > 0;
  } catch (error) {
    document.getElementById("form-status").textContent = `server unreachable: ${error.message}`;
  }
  // poll often while something runs, rarely otherwise
  schedulePoll(active ? 700 : 4000);
}

// ---- verify ------------------------------------------------------------------------------
const CHECK_NAMES = {
  watermark: "Invisible watermark",
  metadata: "Metadata tag",
  c2pa_manifest: "C2PA manifest",
};

function checkCell(check) {
  const cell = el("td");
  cell.append(el("span", { class: `badge ${check.status.replace(/\s+/g, "-")}`,
    text: check.status }));
  const facts = [];
  if (check.note) facts.push(check.note);
  if (typeof check.confidence === "number") {
    facts.push(`confidence ${(100 * check.confidence).toFixed(check.confidence > 0.999 ? 4 : 1)} %`);
  }
  if (check.run_id) facts.push(`run ${check.run_id}`);
  if (facts.length) cell.append(el("div", { class: "muted", text: facts.join(" · ") }));
  if (check.details && Object.keys(check.details).length) {
    cell.append(el("details", {}, el("summary", { text: "details" }),
      el("pre", { text: JSON.stringify(check.details, null, 1) })));
  }
  return cell;
}

function renderReport(result) {
  const report = result.report;
  const parts = [];
  if (typeof report.labelled === "boolean") {
    parts.push(el("p", { class: `verdict ${report.labelled ? "found" : "not-found"}`,
      text: report.labelled
        ? `${result.name} carries openfsgan's synthetic-media label.`
        : `No openfsgan label was found in ${result.name}.` }));
  }
  const table = el("table", { class: "report" });
  if (report.media) {
    const media = report.media;
    const text = [media.kind, media.width && `${media.width}×${media.height}`,
      media.frames_analysed && `${media.frames_analysed} frames analysed`]
      .filter(Boolean).join(", ");
    table.append(el("tr", { "data-key": "media" }, el("th", { text: "File" }),
      el("td", { text: `${result.name} (${text})` })));
  }
  for (const [key, value] of Object.entries(report)) {
    if (!value || typeof value !== "object" || typeof value.status !== "string") continue;
    table.append(el("tr", { "data-key": key },
      el("th", { text: CHECK_NAMES[key] || key.replaceAll("_", " ") }), checkCell(value)));
  }
  parts.push(table);
  if (Array.isArray(report.notes) && report.notes.length) {
    parts.push(el("ul", { class: "notes" }, ...report.notes.map((note) => el("li", { text: note }))));
  }
  document.getElementById("verify-report").replaceChildren(...parts);
}

function setupVerify() {
  const input = document.getElementById("verify-file");
  const zone = input.closest(".dropzone");
  const status = document.getElementById("verify-status");
  const run = async (file) => {
    status.className = "";
    status.textContent = `Checking ${file.name}…`;
    document.getElementById("verify-report").replaceChildren();
    try {
      const result = await uploadFile("/api/verify", file, () => {});
      status.textContent = "";
      renderReport(result);
    } catch (error) {
      status.className = "error";
      status.textContent = `${file.name}: ${error.message}`;
    }
  };
  input.addEventListener("change", () => { if (input.files.length) run(input.files[0]); });
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragover");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragover"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragover");
    if (event.dataTransfer.files.length) run(event.dataTransfer.files[0]);
  });
}

function setupTabs() {
  const tabs = document.querySelectorAll("nav [role=tab]");
  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      for (const other of tabs) {
        const selected = other === tab;
        other.setAttribute("aria-selected", String(selected));
        document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
      }
    });
  }
}

async function init() {
  setupTabs();
  setupPicker("source");
  setupPicker("target");
  setupVerify();
  document.getElementById("job-form").addEventListener("submit", startJob);
  try {
    state.info = await api("GET", "/api/info");
    document.getElementById("version").textContent = `v${state.info.version}`;
    const select = document.getElementById("method");
    for (const method of state.info.methods) {
      select.append(el("option", { value: method, text: method }));
    }
    setupStages(state.info.stages || {});
  } catch (error) {
    document.getElementById("form-status").textContent = `server unreachable: ${error.message}`;
  }
  pollJobs();
}

document.addEventListener("DOMContentLoaded", init);
