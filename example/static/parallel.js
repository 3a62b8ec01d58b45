// The parallel page: fire 20 fetches at once while the credentials rotate
// (POST /demo/renew) or while signing in (POST /login), then report what
// each request saw. window.lastRun keeps the result for the browser test.
"use strict";

const N = 20;

async function me(i) {
  const url = i === undefined ? "/api/me" : "/api/me?i=" + i;
  try {
    const r = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
    const body = await r.json();
    return { i, status: r.status, user: body.user || "", cred: body.cred || "", arrival: body.arrival || 0 };
  } catch (e) {
    return { i, status: 0, user: "", cred: "", arrival: 0, error: String(e) };
  }
}

// post returns the status and the arrival numbers the server counted just
// before and just after it rotated the credentials (or signed in).
async function post(url, form) {
  const r = await fetch(url, {
    method: "POST",
    headers: { Accept: "application/json" },
    body: form ? new URLSearchParams(form) : undefined,
  });
  let body = {};
  try { body = await r.json(); } catch (e) { /* not JSON: a refusal page */ }
  return { status: r.status, from: body.from || 0, to: body.to || 0 };
}

// when tells, by arrival number, whether a request reached the server
// before the rotation, after it (then, with the old cookies, it was served
// in the grace window), or while it was being committed.
function when(r, side) {
  if (side.status !== 200 || r.arrival === 0) return "unknown";
  if (r.arrival <= side.from) return "before";
  if (r.arrival > side.to) return "after";
  return "during";
}

async function fire(mode) {
  // Twice: a response may refresh the cookies (a healed session cookie, a
  // token sent again); the second shows what the fetches below will carry.
  await me();
  const before = await me();
  const fetches = [];
  let side;
  for (let i = 0; i < N; i++) {
    fetches.push(me(i));
    if (i === N / 2) {
      side = mode === "login"
        ? post("/login", { username: "alice", password: "demo" })
        : post("/demo/renew");
    }
  }
  const results = await Promise.all(fetches);
  const sideResult = await side;
  const after = await me();
  const old = results.filter((r) => r.cred === before.cred);
  for (const r of results) r.when = when(r, sideResult);
  return {
    mode,
    before,
    after,
    sideStatus: sideResult.status,
    results,
    ok: results.filter((r) => r.status === 200).length,
    sawUser: results.filter((r) => r.user !== "").length,
    old: old.length,
    // Requests the browser held back (six connections per host over
    // HTTP/1.1) until the rotation's answer had arrived left with the new
    // cookies: they are neither before the rotation nor in the grace window.
    answeredBefore: old.filter((r) => r.when === "before").length,
    grace: old.filter((r) => r.when === "after").length,
    during: old.filter((r) => r.when === "during").length,
    fresh: results.filter((r) => r.cred !== before.cred).length,
    // A request that left signed out must stay signed out.
    escalated: before.user === "" ? old.filter((r) => r.user !== "").length : 0,
  };
}

function show(run) {
  const $ = (id) => document.getElementById(id);
  $("result").hidden = false;
  $("r-ok").textContent = run.ok + " / " + N;
  $("r-user").textContent = run.sawUser + " / " + N;
  const what = run.mode === "login" ? "the sign-in" : "the rotation";
  $("r-before-label").textContent = "Answered before " + what;
  $("r-before").textContent = String(run.answeredBefore);
  $("r-grace-label").textContent = "Arrived after " + what + " with the old cookies";
  $("r-during").textContent = String(run.during);
  $("r-during").hidden = $("r-during-label").hidden = run.during === 0;
  $("r-fresh-label").textContent = "Left after " + what + ", with the new cookies";
  $("r-fresh").textContent = String(run.fresh);
  if (run.mode === "login") {
    $("r-grace").textContent = run.grace + " (served in the grace window: must all stay anonymous)";
    $("r-esc").textContent = String(run.escalated);
    $("r-esc").className = run.escalated === 0 ? "good" : "bad";
  } else {
    $("r-grace").textContent = run.grace + " (served in the grace window as the same user, no cookie set)";
    $("r-esc").textContent = "n/a (already signed in)";
    $("r-esc").className = "";
  }
  $("r-side-label").textContent = run.mode === "login" ? "Sign-in (POST /login)" : "Rotation (POST /demo/renew)";
  $("r-side").textContent = "HTTP " + run.sideStatus;
  $("r-after").textContent = run.after.user ? "yes, as " + run.after.user : "no";
  for (const id of ["r-ok", "r-after"]) $(id).className = "";
  $("r-ok").classList.add(run.ok === N ? "good" : "bad");
  $("r-after").classList.add(run.after.user ? "good" : "bad");
  const cells = $("r-cells");
  cells.textContent = "";
  for (const r of run.results) {
    const li = document.createElement("li");
    li.className = r.status !== 200 ? "fail" : r.user ? "user" : "anon";
    const old = r.cred === run.before.cred;
    if (old && r.when === "after") li.classList.add("grace");
    if (old && r.when === "during") li.classList.add("during");
    if (!old) li.classList.add("fresh");
    const whenText = !old ? "left after " + what + " with the new cookies"
      : { before: "answered before " + what, after: "arrived after " + what + " with the old cookies", during: "arrived during " + what, unknown: "" }[r.when];
    li.title = "#" + r.i + ": HTTP " + r.status + (r.user ? ", " + r.user : ", anonymous") + (whenText ? ", " + whenText : "");
    cells.appendChild(li);
  }
}

document.getElementById("fire").addEventListener("click", async (ev) => {
  const button = ev.currentTarget;
  if (button.dataset.mode === "reload") {
    location.reload();
    return;
  }
  button.disabled = true;
  const run = await fire(button.dataset.mode);
  window.lastRun = run;
  show(run);
  button.disabled = false;
  if (run.mode === "login" && run.after.user) {
    // Signed in now: the rotation demo needs the page of a signed-in user,
    // and the header must say who is signed in.
    button.dataset.mode = "reload";
    button.textContent = "Signed in: reload for the rotation demo";
    await refreshHeader();
  }
});

// refreshHeader replaces the page's header (navigation, the signed-in
// user, the sign-out button) with the server's current one, leaving the
// results on the page.
async function refreshHeader() {
  try {
    const r = await fetch(location.pathname, { cache: "no-store", headers: { Accept: "text/html" } });
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    const fresh = doc.querySelector("header.top");
    if (r.ok && fresh) document.querySelector("header.top").replaceWith(fresh);
  } catch (e) {
    /* the old header stays; the reload button still works */
  }
}
