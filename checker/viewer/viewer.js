// ackcheck trace viewer: draws one step of the embedded trace as lanes (controller, one per
// broker, producer, consumer) and marks what the step changed. Every string of the trace
// goes into the page with textContent, never as markup.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("trace-data").textContent);
  var N = D.steps.length;
  var V = D.violation;
  var R = D.replay || null;
  var LOOP = (typeof D.loop_start === "number") ? D.loop_start : null;
  var invRec = new Set(((V && V.records) || []).map(String));
  var invOff = new Set(((V && V.offsets) || []).map(String));
  var CELL = 84; // px per offset in a log track (cell + gap)
  var cur = 0;

  // ------------------------------------------------------------------ helpers
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent, child) { parent.appendChild(child); return child; }
  function list(xs) { return "[" + (xs || []).map(String).join(", ") + "]"; }
  function hue(rec) {
    var s = String(rec), h = 0;
    if (/^\d+$/.test(s)) return (Number(s) * 97 + 200) % 360;
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) % 360;
    return h;
  }
  function entries(log) {
    var out = [];
    (log || []).forEach(function (b) {
      (b.records || []).forEach(function (r, i) {
        out.push({ off: b.base_offset + i, rec: r, epoch: b.leader_epoch,
                   pe: b.producer_epoch, seq: b.base_sequence >= 0 ? b.base_sequence + i : -1 });
      });
    });
    return out;
  }
  function brokerName(b) { return (b < 0) ? "none" : "broker " + b; }

  // ------------------------------------------------------------------ facts
  // Every value the page shows, keyed; a step changed exactly the keys whose text differs
  // from the previous step's.
  var INTERNAL_LABELS = {
    batches: "producer batch", requests: "produce request in the network",
    responses: "produce response in the network", purgatory: "acks=all request parked on the leader",
    controller_messages: "controller message in flight", isr_changes: "pending AlterPartition",
    delayed_fetches: "delayed fetch request", fetcher_truncating: "fetcher truncating"
  };
  function facts(o, inn) {
    var f = new Map();
    function put(k, label, v) { f.set(k, [label, String(v)]); }
    if (!o) return f;
    put("c.leader", "controller: leader", o.leader < 0 ? "none (offline)" : "broker " + o.leader);
    put("c.epoch", "controller: leader epoch", o.leader_epoch);
    put("c.isr", "controller: ISR", list(o.isr));
    put("c.elr", "controller: ELR", list(o.elr));
    (o.replicas || []).forEach(function (r, b) {
      var p = "b" + b + ".", who = "broker " + b + ": ";
      put(p + "alive", who + "process", r.alive ? "up" : "down");
      put(p + "leader", who + "believes the leader is", brokerName(r.leader));
      put(p + "epoch", who + "believed leader epoch", r.leader_epoch);
      put(p + "leo", who + "LEO", r.log_end_offset);
      put(p + "hw", who + "HW", r.high_watermark);
      put(p + "flushed", who + "flushed below offset", r.flushed_offset);
      put(p + "isr", who + "ISR as leader", list(r.isr));
      put(p + "fleos", who + "follower fetch offsets", (r.follower_leos || []).join(" / "));
      entries(r.log).forEach(function (e) {
        put(p + "o" + e.off, who + "offset " + e.off, "record " + e.rec + " @ epoch " + e.epoch);
      });
    });
    (o.producer || []).forEach(function (p) {
      put("p.r" + p.record, "producer: record " + p.record,
          p.outcome + (p.offset >= 0 ? " at offset " + p.offset : ""));
    });
    put("p.inflight", "producer: records in flight", list(o.in_flight));
    put("p.ackisr", "producer: ISR size with each acks=all ack", list(o.ack_isr_sizes));
    var c = o.consumer || {};
    put("k.position", "consumer: position", c.position);
    put("k.committed", "consumer: committed offset", c.committed_offset);
    put("k.lag", "consumer: lag", o.lag ? o.lag.lag : "");
    put("k.read", "consumer: read", (c.read || []).map(function (r) { return r.offset + ":" + r.record; }).join(" ") || "nothing");
    if (inn) {
      Object.keys(inn).forEach(function (name) {
        var v = inn[name];
        if (!Array.isArray(v)) { put("i." + name, INTERNAL_LABELS[name] || name, v); return; }
        v.forEach(function (item, i) { put(itemKey(name, item, i), INTERNAL_LABELS[name] || name, item); });
      });
    }
    return f;
  }
  // batches are numbered: one key per batch; other internals are sets of messages: one key
  // per message, so a message arriving or leaving changes only its own key
  function itemKey(name, item, i) { return name === "batches" ? "i.batches." + i : "i." + name + "#" + item; }
  function changedKeys(a, b) {
    var out = new Set();
    if (!a) return out;
    b.forEach(function (v, k) { if (!a.has(k) || a.get(k)[1] !== v[1]) out.add(k); });
    a.forEach(function (v, k) { if (!b.has(k)) out.add(k); });
    return out;
  }

  var F = D.steps.map(function (s) { return facts(s.obs, s.internals); });
  var RF = R ? D.steps.map(function (s, k) { return R.observations && R.observations[k] ? facts(R.observations[k]) : null; }) : null;
  var CH = F.map(function (f, k) { return k ? changedKeys(F[k - 1], f) : new Set(); });
  var RCH = RF ? RF.map(function (f, k) { return (k && f && RF[k - 1]) ? changedKeys(RF[k - 1], f) : new Set(); }) : null;
  // keys where the broker's observation differs from the model's
  var DIS = RF ? RF.map(function (f, k) {
    if (!f) return null;
    var d = new Set();
    var model = facts(D.steps[k].obs); // without internals: the broker reports none
    model.forEach(function (v, key) { if (!f.has(key) || f.get(key)[1] !== v[1]) d.add(key); });
    f.forEach(function (v, key) { if (!model.has(key)) d.add(key); });
    return d;
  }) : null;
  var maxOff = 1;
  function widen(o) {
    if (!o) return;
    (o.replicas || []).forEach(function (r) { maxOff = Math.max(maxOff, r.log_end_offset, r.high_watermark); });
  }
  D.steps.forEach(function (s) { widen(s.obs); });
  if (R && R.observations) R.observations.forEach(widen);

  // ------------------------------------------------------------------ header
  function fillHeader() {
    $("title").textContent = D.title || "trace";
    if (D.description) { $("description").textContent = D.description; $("description").hidden = false; }
    if (D.back_link && /^[A-Za-z0-9_.\-\/]+\.html$/.test(D.back_link) && !/^\//.test(D.back_link)) {
      var a = $("back"); a.href = D.back_link; a.textContent = "\u2190 back to the overview"; a.hidden = false;
    }
    if (V) {
      $("violation").hidden = false;
      $("v-id").textContent = V.invariant;
      $("v-where").textContent = "at step " + V.step + " of " + (N - 1);
      $("v-sentence").textContent = V.description
        ? (V.liveness ? "The liveness property: " : "The guarantee: ") + V.description + "."
        : "An invariant this version of ackcheck does not describe.";
      $("v-message").textContent = "What broke: " + V.message;
      $("goto-violation").hidden = false;
    }
    var dl = $("config");
    (D.config || []).forEach(function (kv) {
      var d = add(dl, el("div", "kv"));
      add(d, el("dt", null, kv[0])); add(d, el("dd", null, kv[1]));
    });
    var bl = $("bounds");
    (D.bounds || []).forEach(function (kv) {
      var d = add(bl, el("div", "kv"));
      add(d, el("dt", null, kv[0].replace(/^max_/, "max ").replace(/_/g, " "))); add(d, el("dd", null, kv[1]));
    });
    $("kafka-version").textContent = D.kafka_version || "?";
    var ul = $("rules");
    (D.rules || []).forEach(function (r) {
      var li = add(ul, el("li", r[1] ? "on" : "off", r[0]));
      li.title = r[0] + (r[1] ? " (on)" : " (off)");
    });
    if (D.command) { $("command").textContent = D.command; $("command-box").hidden = false; }
    if (R) {
      var rs = $("replay-summary"); rs.hidden = false;
      add(rs, el("strong", null, "Replayed on the " + (R.on || "reference broker") + ". "));
      add(rs, el("span", null, "Its lanes stand beside the model's; steps where the two disagree are marked \u2260."));
      var summary = Array.isArray(R.summary) ? R.summary : [R.summary || ""];
      summary.forEach(function (line) { add(rs, el("div", "mono", line)); });
      rs.className = "replay-summary " + (R.conformant ? "agree" : "disagree");
    }
    document.title = "ackcheck: " + (D.title || "trace");
  }

  // ------------------------------------------------------------------ step list and slider
  function agreeAt(k) {
    if (!R) return null;
    if (!RF[k]) return undefined;
    return DIS[k].size === 0;
  }
  function fillSteps() {
    var ol = $("steps");
    D.steps.forEach(function (s, k) {
      var li = add(ol, el("li"));
      li.dataset.step = k;
      add(li, el("span", "num", k));
      var body = add(li, el("span", "what"));
      if (s.actor) add(body, el("span", "actor lane-" + String(s.lane).split("-")[0] + (s.fault ? " fault" : ""), s.actor));
      add(body, el("span", "text", s.text));
      if (V && k === V.step) { li.classList.add("violation"); add(li, el("span", "flag", "violated")); }
      if (LOOP !== null && k >= LOOP) { li.classList.add("loop"); if (k === LOOP) add(li, el("span", "flag loopflag", "\u21bb loop starts")); }
      var ag = agreeAt(k);
      if (ag === false) { li.classList.add("step-disagree"); add(li, el("span", "flag disflag", "\u2260 broker")); }
      if (ag === true) { add(li, el("span", "flag agreeflag", "= broker")); }
      if (ag === undefined) { add(li, el("span", "flag", "not replayed")); }
      li.addEventListener("click", function () { go(k); });
    });
    var slider = $("slider");
    slider.max = String(N - 1);
    slider.addEventListener("input", function () { go(Number(slider.value)); });
    var ticks = $("ticks");
    D.steps.forEach(function (s, k) {
      var t = add(ticks, el("span", "tick"));
      t.style.left = (N > 1 ? (100 * k / (N - 1)) : 0) + "%";
      if (V && k === V.step) t.classList.add("violation");
      if (agreeAt(k) === false) t.classList.add("step-disagree");
    });
    if (LOOP !== null && N > 1) {
      var band = add(ticks, el("span", "loopband"));
      band.style.left = (100 * LOOP / (N - 1)) + "%";
      band.style.width = "max(8px, " + (100 * (N - 1 - LOOP) / (N - 1)) + "%)";
      band.title = "the loop: steps " + LOOP + " to " + (N - 1) + " repeat forever";
    }
    $("first").addEventListener("click", function () { go(0); });
    $("prev").addEventListener("click", function () { go(cur - 1); });
    $("next").addEventListener("click", function () { go(cur + 1); });
    $("last").addEventListener("click", function () { go(N - 1); });
    $("goto-violation").addEventListener("click", function () { if (V) go(V.step); });
    document.addEventListener("keydown", function (ev) {
      if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
      var to = null;
      if (ev.key === "ArrowLeft") to = cur - 1;
      else if (ev.key === "ArrowRight") to = cur + 1;
      else if (ev.key === "Home") to = 0;
      else if (ev.key === "End") to = N - 1;
      if (to === null) return;
      ev.preventDefault();
      go(to);
    });
  }

  // ------------------------------------------------------------------ lanes
  function val(key, text, cls) {
    var s = el("span", "val" + (cls ? " " + cls : ""), text);
    s.dataset.k = key;
    return s;
  }
  function field(parent, label, key, text, cls) {
    var f = add(parent, el("span", "field"));
    add(f, el("span", "label", label));
    add(f, val(key, text, cls));
    return f;
  }
  function items(parent, label, name, inn) {
    var f = add(parent, el("span", "field items"));
    add(f, el("span", "label", label));
    var xs = inn[name] || [];
    if (!xs.length) add(f, el("span", "val none", "none"));
    xs.forEach(function (item, i) { add(f, val(itemKey(name, item, i), item, "item")); });
    return f;
  }
  function lane(parent, name, cls, laneId) {
    var l = add(parent, el("div", "lane " + cls));
    l.dataset.lane = laneId;
    var head = add(l, el("div", "lane-head"));
    add(head, el("div", "lane-name", name));
    var body = add(l, el("div", "lane-body"));
    return { lane: l, head: head, body: body };
  }
  function recChip(rec, key, extra) {
    var c = val(key, rec, "recchip" + (extra ? " " + extra : ""));
    c.style.setProperty("--h", hue(rec));
    if (invRec.has(String(rec))) c.classList.add("involved");
    return c;
  }

  function controllerLane(parent, o, inn) {
    var L = lane(parent, "controller", "controller", "controller");
    add(L.head, el("div", "sub", o.leader < 0 ? "partition offline" : "KRaft / ZooKeeper metadata"));
    var row = add(L.body, el("div", "fields"));
    field(row, "leader", "c.leader", o.leader < 0 ? "none (offline)" : "broker " + o.leader, o.leader < 0 ? "bad" : "");
    field(row, "leader epoch", "c.epoch", o.leader_epoch);
    var isr = field(row, "ISR", "c.isr", list(o.isr));
    isr.title = "in-sync replicas as committed by the controller";
    field(row, "ELR", "c.elr", list(o.elr)).title = "eligible leader replicas (KIP-966)";
    if (inn) {
      var r2 = add(L.body, el("div", "fields"));
      items(r2, "pending AlterPartition", "isr_changes", inn);
      items(r2, "messages in flight", "controller_messages", inn);
    }
    return L;
  }

  function brokerLane(parent, o, b, prevO, idPrefix) {
    var r = o.replicas[b];
    var isLeader = o.leader === b;
    var L = lane(parent, "broker " + b, "broker" + (r.alive ? "" : " dead") + (isLeader ? " leader" : ""), "broker-" + b);
    var badges = add(L.head, el("div", "badges"));
    add(badges, val("b" + b + ".alive", r.alive ? "up" : "down", r.alive ? "badge up" : "badge down"));
    if (isLeader) add(badges, el("span", "badge lead", "leader"));
    else if (o.isr.indexOf(b) >= 0) add(badges, el("span", "badge follower", "ISR"));
    else add(badges, el("span", "badge out", "out of ISR"));
    var bel = add(L.head, el("div", "sub"));
    add(bel, el("span", "label", "believes leader "));
    add(bel, val("b" + b + ".leader", r.leader < 0 ? "none" : String(r.leader)));
    add(bel, el("span", "label", " epoch "));
    add(bel, val("b" + b + ".epoch", r.leader_epoch));
    // the log track: offsets line up across brokers
    var track = add(L.body, el("div", "track-log"));
    track.style.width = ((maxOff + 1) * CELL + 12) + "px";
    var now = entries(r.log);
    var byOff = {};
    now.forEach(function (e) { byOff[e.off] = e; });
    now.forEach(function (e) {
      var cell = val("b" + b + ".o" + e.off, null, "rec " + (e.off < r.flushed_offset ? "flushed" : "cache"));
      add(cell, el("span", "off", e.off + ": "));
      add(cell, el("span", "rid", e.rec));
      add(cell, el("span", "ep", " @ " + e.epoch));
      cell.style.left = (e.off * CELL + 6) + "px";
      cell.style.setProperty("--h", hue(e.rec));
      cell.title = "offset " + e.off + ": record " + e.rec + ", leader epoch " + e.epoch +
        (e.seq >= 0 ? ", producer epoch " + e.pe + " sequence " + e.seq : "") +
        (e.off < r.flushed_offset ? "; on disk" : "; in the page cache only") +
        (e.off < r.high_watermark ? "; below the HW (committed)" : "; above the HW");
      if (invRec.has(String(e.rec))) cell.classList.add("involved");
      if (invOff.has(String(e.off))) cell.classList.add("involved-offset");
      if (e.off >= r.high_watermark) cell.classList.add("above-hw");
      add(track, cell);
    });
    var ghosts = 0;
    if (prevO && prevO.replicas[b]) {
      entries(prevO.replicas[b].log).forEach(function (e) {
        var n = byOff[e.off];
        if (n && n.rec === e.rec && n.epoch === e.epoch) return;
        // gone: struck through where it was; overwritten: below the record now there
        var ghost = el("span", "rec removed" + (n ? " replaced" : ""));
        if (n) ghosts++;
        add(ghost, el("span", "off", e.off + ": "));
        add(ghost, el("span", "rid", e.rec));
        add(ghost, el("span", "ep", " @ " + e.epoch));
        ghost.style.left = (e.off * CELL + 6) + "px";
        ghost.style.setProperty("--h", hue(e.rec));
        ghost.title = "offset " + e.off + ": record " + e.rec + " @ epoch " + e.epoch + " was here at the previous step";
        if (invRec.has(String(e.rec))) ghost.classList.add("involved");
        add(track, ghost);
      });
    }
    if (!now.length && !(prevO && prevO.replicas[b] && prevO.replicas[b].log.length)) {
      var empty = add(track, el("span", "emptylog", "empty log"));
      empty.style.left = "10px";
    }
    function marker(kind, label, off, key, shift) {
      var m = add(track, el("span", "mk " + kind));
      m.style.left = (off * CELL + 1) + "px";
      var t = add(m, val(key, label + " " + off));
      t.className += " mklabel";
      t.style.left = (shift - 3) + "px";
    }
    marker("hw", "HW", r.high_watermark, "b" + b + ".hw", 0);
    marker("leo", "LEO", r.log_end_offset, "b" + b + ".leo", r.log_end_offset === r.high_watermark ? 46 : 0);
    // at the violation, an offset the invariant names that the controller's leader lacks
    if (V && cur === V.step && isLeader) {
      invOff.forEach(function (off) {
        if (byOff[off] || Number(off) < r.log_end_offset) return;
        var miss = add(track, el("span", "rec missing", off + ": missing"));
        miss.style.left = (Number(off) * CELL + 6) + "px";
        miss.title = "the violation names offset " + off + "; this leader's log ends at " + r.log_end_offset;
      });
    }
    if (ghosts) track.classList.add("with-ghosts");
    var foot = add(L.body, el("div", "fields small"));
    field(foot, "flushed below", "b" + b + ".flushed", r.flushed_offset);
    if (r.isr && r.isr.length) field(foot, "ISR as leader", "b" + b + ".isr", list(r.isr));
    if (r.follower_leos && r.follower_leos.some(function (x) { return x >= 0; }))
      field(foot, "follower fetch offsets", "b" + b + ".fleos", r.follower_leos.map(function (x, i) {
        return i + ":" + (x < 0 ? "-" : x); }).join(" "));
    return L;
  }

  var OUTCOME_CLASS = { ok: "ok", failed: "failed", indeterminate: "indet", pending: "pending", unsent: "unsent" };
  function producerLane(parent, o, inn, k) {
    var L = lane(parent, "producer", "producer", "producer");
    add(L.head, el("div", "sub", "acks=" + configValue("acks") + ", idempotence " + configValue("enable.idempotence")));
    var recs = add(L.body, el("div", "records"));
    (o.producer || []).forEach(function (p, i) {
      var box = add(recs, el("div", "precord"));
      add(box, recChip(p.record, "p.chip" + p.record));
      var oc = val("p.r" + p.record, p.outcome + (p.offset >= 0 ? " @ " + p.offset : ""), "outcome " + (OUTCOME_CLASS[p.outcome] || ""));
      add(box, oc);
      if ((o.in_flight || []).map(String).indexOf(String(p.record)) >= 0) add(box, el("span", "badge inflight", "in flight"));
      var isr = (o.ack_isr_sizes || [])[i];
      if (isr !== undefined && isr >= 0) add(box, el("span", "note", "acked with ISR size " + isr));
    });
    var row = add(L.body, el("div", "fields"));
    field(row, "in flight", "p.inflight", list(o.in_flight));
    if (inn) {
      var bt = add(L.body, el("div", "fields"));
      items(bt, "batches", "batches", inn);
      var net = add(L.body, el("div", "fields"));
      items(net, "requests in the network", "requests", inn);
      items(net, "responses in the network", "responses", inn);
      items(net, "parked acks=all requests", "purgatory", inn);
      if (inn.delayed_fetches && inn.delayed_fetches.length) items(net, "delayed fetches", "delayed_fetches", inn);
    } else {
      field(row, "send attempts", "p.attempts", attempts(k));
    }
    return L;
  }
  function attempts(k) {
    var n = {};
    for (var j = 1; j <= k; j++) {
      var s = D.steps[j];
      if (s.action === "producer_send") n[s.args[0]] = (n[s.args[0]] || 0) + 1;
    }
    var keys = Object.keys(n);
    return keys.length ? keys.map(function (b) { return "batch " + b + ": " + n[b]; }).join(", ") : "none yet";
  }
  function configValue(name) {
    var v = "?";
    (D.config || []).forEach(function (kv) { if (kv[0] === name) v = kv[1]; });
    return v;
  }
  function consumerLane(parent, o) {
    var L = lane(parent, "consumer", "consumer", "consumer");
    add(L.head, el("div", "sub", "one consumer, auto.offset.reset=" + configValue("auto.offset.reset")));
    var c = o.consumer || {};
    var row = add(L.body, el("div", "fields"));
    field(row, "position", "k.position", c.position);
    field(row, "committed offset", "k.committed", c.committed_offset);
    field(row, "lag", "k.lag", o.lag ? o.lag.lag : "");
    var read = add(row, el("span", "field"));
    add(read, el("span", "label", "read"));
    var rv = add(read, val("k.read", null));
    if (!(c.read || []).length) rv.textContent = "nothing";
    (c.read || []).forEach(function (r) {
      add(rv, el("span", "off", r.offset + ":"));
      add(rv, recChip(r.record, "k.read." + r.offset));
    });
    return L;
  }

  function column(title, o, inn, prevO, changed, disagree, k) {
    var col = el("div", "column");
    if (title) add(col, el("h2", "coltitle", title));
    if (!o) { add(col, el("p", "missing", "the replay stopped before this step")); return col; }
    controllerLane(col, o, inn);
    for (var b = 0; b < o.replicas.length; b++) brokerLane(col, o, b, prevO, title);
    producerLane(col, o, inn, k);
    consumerLane(col, o);
    col.querySelectorAll("[data-k]").forEach(function (e) {
      if (changed && changed.has(e.dataset.k)) e.classList.add("changed");
      if (disagree && disagree.has(e.dataset.k)) e.classList.add("disagree");
    });
    return col;
  }

  // ------------------------------------------------------------------ one step
  function go(k) {
    k = Math.max(0, Math.min(N - 1, k));
    cur = k;
    var s = D.steps[k];
    $("slider").value = String(k);
    $("counter").textContent = "step " + k + " / " + (N - 1);
    $("now-step").textContent = "step " + k;
    var actor = $("now-actor");
    actor.textContent = s.actor || "";
    actor.className = "actor lane-" + String(s.lane || "none").split("-")[0] + (s.fault ? " fault" : "");
    actor.hidden = !s.actor;
    $("now-text").textContent = s.text;
    var nv = $("now-violation");
    nv.textContent = "";
    if (V && k === V.step) {
      nv.hidden = false;
      add(nv, el("strong", null, V.invariant + " is broken here. "));
      add(nv, el("span", null, V.description
        ? "It promises that " + V.description + "; but " + V.message + "."
        : V.message + "."));
    } else {
      nv.hidden = true;
    }
    var ln = $("now-loop");
    if (LOOP !== null && k >= LOOP) {
      ln.hidden = false;
      if (LOOP === N - 1) {
        ln.textContent = "\u21bb From step " + LOOP + " on the execution stays in this state forever.";
      } else {
        ln.textContent = k === N - 1
          ? "\u21bb The last step returns to the state of step " + LOOP + ": steps " + LOOP + "\u2013" + (N - 1) + " can repeat forever."
          : "\u21bb In the loop (steps " + LOOP + "\u2013" + (N - 1) + " repeat forever).";
      }
    } else {
      ln.hidden = true;
    }
    // what changed, in words
    var ch = $("changes");
    ch.textContent = "";
    if (k === 0) {
      add(ch, el("div", "chhead", "The initial state."));
    } else {
      var keys = Array.from(CH[k]);
      add(ch, el("div", "chhead", keys.length ? "What this step changed:" : "No visible change (the step moved state the observation does not show)."));
      var ul = add(ch, el("ul"));
      keys.forEach(function (key) {
        var a = F[k - 1].get(key), b = F[k].get(key);
        var li = add(ul, el("li"));
        li.dataset.k = key;
        add(li, el("span", "label", (b || a)[0] + ": "));
        add(li, el("span", "old", a ? a[1] : "\u2014"));
        add(li, el("span", "arrow", " \u2192 "));
        add(li, el("span", "new", b ? b[1] : "gone"));
      });
    }
    var cols = $("columns");
    cols.textContent = "";
    cols.classList.toggle("two", !!R);
    var prevO = k > 0 ? D.steps[k - 1].obs : null;
    add(cols, column(R ? "model (the trace)" : "", s.obs, s.internals, prevO, CH[k], null, k));
    if (R) {
      var ro = R.observations && R.observations[k];
      var rprev = k > 0 && R.observations ? R.observations[k - 1] : null;
      var c2 = add(cols, column("reference broker" + (ro ? (DIS[k].size ? " \u2260 differs" : " = agrees") : ""),
        ro, null, rprev, RCH[k], DIS[k], k));
      c2.classList.add(ro && DIS[k].size === 0 ? "col-agree" : "col-disagree");
      if (ro && DIS[k].size) {
        var box = el("div", "disagreements");
        add(box, el("div", "chhead", "Where the broker differs from the model at this step:"));
        var dul = add(box, el("ul"));
        var mf = facts(s.obs);
        DIS[k].forEach(function (key) {
          var a = mf.get(key), b = RF[k].get(key);
          var li = add(dul, el("li"));
          add(li, el("span", "label", (a || b)[0] + ": "));
          add(li, el("span", null, "model " + (a ? a[1] : "\u2014") + ", broker " + (b ? b[1] : "\u2014")));
        });
        c2.insertBefore(box, c2.children[1] || null);
      }
    }
    // highlight the acting lane
    document.querySelectorAll(".lane").forEach(function (l) {
      l.classList.toggle("acting", !!s.lane && l.dataset.lane === s.lane);
    });
    document.querySelectorAll("#steps li").forEach(function (li) {
      li.classList.toggle("current", Number(li.dataset.step) === k);
    });
    var curLi = document.querySelector("#steps li.current");
    if (curLi && curLi.scrollIntoView) curLi.scrollIntoView({ block: "nearest" });
    document.body.classList.toggle("at-violation", !!(V && k === V.step));
    try { history.replaceState(null, "", "#step-" + k); } catch (e) { /* file: URLs may refuse */ }
  }

  fillHeader();
  fillSteps();
  var m = /^#step-(\d+)$/.exec(location.hash || "");
  go(m ? Number(m[1]) : 0);
  document.body.dataset.ready = "true";
})();
