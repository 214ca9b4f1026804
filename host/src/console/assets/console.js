// artifact console: copy buttons and uploads. No framework; pages work without it except upload.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf"]').content;

function copyButtons() {
  for (const b of document.querySelectorAll("button.copy")) {
    b.addEventListener("click", async () => {
      const text = document.getElementById(b.dataset.copy).textContent;
      try {
        await navigator.clipboard.writeText(text);
        b.textContent = "copied";
      } catch {
        const r = document.createRange();
        r.selectNodeContents(document.getElementById(b.dataset.copy));
        getSelection().removeAllRanges();
        getSelection().addRange(r);
        b.textContent = "selected: press Ctrl+C";
      }
      setTimeout(() => (b.textContent = "copy"), 2000);
    });
  }
}

function humanSize(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(2)) + " " + units[i];
}

async function uploadOne(zone, file, nameInput, list) {
  const name = (nameInput.value.trim() && zone.dataset.files === "1") ? nameInput.value.trim() : file.name;
  const li = document.createElement("li");
  li.textContent = `${name} (${humanSize(file.size)}): uploading…`;
  list.appendChild(li);
  const url = `/b/${encodeURIComponent(zone.dataset.bucket)}/upload?name=${encodeURIComponent(name)}`;
  try {
    const r = await fetch(url, {
      method: "PUT",
      body: file,
      headers: { "x-csrf-token": csrf(), "content-type": file.type || "application/octet-stream",
                 "accept": "application/json" },
      credentials: "same-origin",
    });
    const body = await r.json();
    if (!r.ok) throw new Error(`${body.error.kind}: ${body.error.message}`);
    li.textContent = "";
    const a = document.createElement("a");
    a.href = `/a/${encodeURIComponent(body.meta.id)}`;
    a.textContent = name;
    li.append(a, body.created ? ": uploaded" : ": already stored under this name (kept the existing one)");
    li.className = body.created ? "created" : "existed";
    return true;
  } catch (e) {
    li.textContent = `${name}: failed: ${e.message}`;
    li.className = "failed";
    return false;
  }
}

async function uploadAll(zone, files) {
  const nameInput = document.getElementById("upload-name");
  const list = document.getElementById("upload-status");
  zone.dataset.files = String(files.length);
  let ok = 0;
  for (const f of files) if (await uploadOne(zone, f, nameInput, list)) ok++;
  if (ok > 0 && !document.getElementById("refresh")) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = location.pathname;
    a.id = "refresh";
    a.textContent = "refresh the list";
    li.appendChild(a);
    list.appendChild(li);
  }
  zone.dataset.done = String(Number(zone.dataset.done || 0) + files.length);
}

function uploads() {
  const zone = document.getElementById("upload");
  if (!zone) return;
  const input = document.getElementById("upload-input");
  input.addEventListener("change", () => { uploadAll(zone, [...input.files]); input.value = ""; });
  for (const ev of ["dragenter", "dragover"]) zone.addEventListener(ev, (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer && e.dataTransfer.files.length) uploadAll(zone, [...e.dataTransfer.files]);
  });
}

copyButtons();
uploads();
