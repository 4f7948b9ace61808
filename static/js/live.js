// Live alerts for the pages: one WebSocket to /ws/alerts/ signed in with the session cookie
// (alerts/consumers.py). It keeps the header's unread count, a caseload row's unread and latest
// activity cells, a family page's chronology and a report's page current, and announces each
// update in #live-announcer. Every page is correct without it: it only adds to what the server
// rendered.
//
// Protocol: server -> {"type": "alert", "alert": {...}}, {"type": "resumed"}, {"type": "pong"};
// client -> {"type": "resume", "after": <id>}, {"type": "ping"}. The client resumes after the
// newest alert id it knows (the page's, from #alert-count's data-last-alert-id, or the last one
// it saw, kept in sessionStorage), reconnects with exponential backoff, pings every 25 s, and
// handles each alert id once.
(function () {
  "use strict";

  if (!("WebSocket" in window) || !document.body || !document.body.dataset.userId) {
    return;
  }

  var HEARTBEAT_MS = 25000;
  var PONG_WAIT_MS = 10000;
  var BACKOFF_FIRST_MS = 1000;
  var BACKOFF_MAX_MS = 10000;
  var CLOSE_UNAUTHORISED = 4401;
  var CLOSE_REVOKED = 4403;
  var CHRONOLOGY_KINDS = { "intervention.recorded": true, "contact.recorded": true };
  var STORAGE_KEY = "teamaround.lastAlertId." + document.body.dataset.userId;

  var countElement = document.getElementById("alert-count");
  // Alerts up to this id were counted by the server when it rendered the page.
  var pageLastId = countElement ? toId(countElement.getAttribute("data-last-alert-id")) : 0;
  var lastId = Math.max(pageLastId, storedLastId());
  var seen = {};
  var socket = null;
  var backoff = BACKOFF_FIRST_MS;
  var reconnectTimer = null;
  var heartbeatTimer = null;
  var pongTimer = null;
  var stopped = false;

  function toId(value) {
    var n = parseInt(value, 10);
    return isFinite(n) && n > 0 ? n : 0;
  }

  function storedLastId() {
    try {
      return toId(window.sessionStorage.getItem(STORAGE_KEY));
    } catch (e) {
      return 0; // storage refused (private mode, policy): memory only
    }
  }

  function rememberLastId(id) {
    if (id <= lastId) {
      return;
    }
    lastId = id;
    try {
      window.sessionStorage.setItem(STORAGE_KEY, String(id));
    } catch (e) {
      // memory only
    }
  }

  // --- the page --------------------------------------------------------------------------------

  function announce(message) {
    var region = document.getElementById("live-announcer");
    if (!region) {
      return;
    }
    // Emptied first, so the same words said twice are announced twice.
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = message;
    }, 50);
  }

  function setCount(n) {
    if (!countElement) {
      return;
    }
    n = Math.max(0, n);
    countElement.setAttribute("data-count", String(n));
    var text = countElement.firstChild;
    if (text && text.nodeType === Node.TEXT_NODE) {
      text.nodeValue = String(n);
    } else {
      countElement.insertBefore(document.createTextNode(String(n)), countElement.firstChild);
    }
  }

  function currentCount() {
    return countElement ? toId(countElement.getAttribute("data-count")) : 0;
  }

  function timeText(iso) {
    var when = new Date(iso);
    if (isNaN(when.getTime())) {
      return "";
    }
    return when.toLocaleString("en-GB", {
      day: "numeric",
      month: "short",
      year: "numeric",
      hour: "2-digit",
      minute: "2-digit"
    });
  }

  function summaryWithoutReference(summary) {
    // An alert's summary leads with the family reference ("TA000001: ..."); a row and a family
    // page already show it.
    var match = /^[A-Z]{2}\d+: /.exec(summary);
    return match ? summary.slice(match[0].length) : summary;
  }

  function updateCaseloadRow(alert) {
    var table = document.getElementById("caseload");
    if (!table || alert.family === null || alert.family === undefined) {
      return false;
    }
    var row = table.querySelector('tr[data-family-id="' + String(parseInt(alert.family, 10)) + '"]');
    if (!row) {
      return false;
    }
    var unread = row.querySelector(".app-unread");
    if (unread && !alert.read_at) {
      unread.textContent = String(toId(unread.textContent) + 1);
    }
    var ownAgency = table.getAttribute("data-agency-id");
    var latest = row.querySelector(".app-latest");
    if (
      latest &&
      CHRONOLOGY_KINDS[alert.kind] &&
      alert.agency !== null &&
      String(alert.agency) !== ownAgency
    ) {
      latest.textContent = "";
      var summary = document.createElement("span");
      summary.className = "app-latest__summary";
      summary.textContent = summaryWithoutReference(alert.summary);
      var meta = document.createElement("span");
      meta.className = "app-latest__meta";
      var time = document.createElement("time");
      time.setAttribute("datetime", alert.created_at);
      time.textContent = timeText(alert.created_at);
      meta.appendChild(document.createTextNode((alert.agency_name || "") + ", "));
      meta.appendChild(time);
      latest.appendChild(summary);
      latest.appendChild(document.createTextNode(" "));
      latest.appendChild(meta);
      latest.classList.add("app-new");
    }
    return true;
  }

  // The family page's item (templates/jinja2/cases/family.html), for a new contact or intervention.
  var CHRONOLOGY_TYPE_LABELS = {
    "intervention.recorded": "Intervention",
    "contact.recorded": "Contact"
  };

  function updateChronology(alert) {
    var list = document.getElementById("chronology");
    if (
      !list ||
      !CHRONOLOGY_KINDS[alert.kind] ||
      list.getAttribute("data-live") === "false" || // a later page or a filtered list
      String(alert.family) !== list.getAttribute("data-family-id") ||
      list.querySelector('[data-alert-id="' + String(alert.id) + '"]')
    ) {
      return false;
    }
    var item = document.createElement("li");
    item.className = "app-chronology__item app-new";
    item.setAttribute("data-alert-id", String(alert.id));
    item.setAttribute("data-type", alert.kind);
    var meta = document.createElement("p");
    meta.className = "govuk-body-s app-chronology__meta";
    var time = document.createElement("time");
    time.setAttribute("datetime", alert.created_at);
    time.textContent = timeText(alert.created_at);
    var agency = document.createElement("span");
    agency.className = "app-chronology__agency";
    agency.textContent = alert.agency_name || "";
    var type = document.createElement("span");
    type.className = "app-chronology__type";
    type.textContent = CHRONOLOGY_TYPE_LABELS[alert.kind];
    var tag = document.createElement("strong");
    tag.className = "govuk-tag govuk-tag--blue app-chronology__new";
    tag.textContent = "New";
    meta.appendChild(time);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(agency);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(type);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(tag);
    var summary = document.createElement("p");
    summary.className = "govuk-body app-chronology__summary";
    summary.textContent = summaryWithoutReference(alert.summary);
    item.appendChild(meta);
    item.appendChild(summary);
    list.insertBefore(item, list.firstChild);
    var empty = document.getElementById("chronology-empty");
    if (empty) {
      empty.hidden = true;
    }
    return true;
  }

  // A report's page (templates/reports/report.html): while the report waits or is being built,
  // the page fetches itself every REPORT_POLL_MS and puts the server's rendering of the status
  // (and of the details beside it) in place of its own, so the progress, the download link or
  // the reason it failed show without a reload; a `report.ready` alert fetches it at once.
  var REPORT_POLL_MS = 2000;
  var REPORT_PENDING = { queued: true, running: true };
  var reportTimer = null;
  var reportFetching = false;

  function reportPending() {
    var status = document.getElementById("report-status");
    return !!status && REPORT_PENDING[status.getAttribute("data-status")] === true;
  }

  function reportSwap(fresh, id) {
    var element = document.getElementById(id);
    var replacement = fresh.getElementById(id);
    if (element && replacement) {
      element.replaceWith(document.importNode(replacement, true));
    }
  }

  function reportRefresh() {
    window.clearTimeout(reportTimer);
    reportTimer = null;
    if (!reportPending() || reportFetching || !window.fetch || !window.DOMParser) {
      return;
    }
    reportFetching = true;
    window
      .fetch(window.location.pathname, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "text/html" }
      })
      .then(function (response) {
        return response.ok ? response.text() : "";
      })
      .then(function (html) {
        var fresh = html ? new DOMParser().parseFromString(html, "text/html") : null;
        var status = document.getElementById("report-status");
        var freshStatus = fresh && fresh.getElementById("report-status");
        if (!status || !freshStatus || freshStatus.innerHTML === status.innerHTML) {
          return;
        }
        reportSwap(fresh, "report-status");
        reportSwap(fresh, "report-details");
        document.title = fresh.title;
        var said = document.querySelector("#report-status [data-announce]");
        if (said) {
          announce(said.textContent.trim());
        }
      })
      .catch(function () {
        // offline for a moment: the next poll tries again
      })
      .then(function () {
        reportFetching = false;
        if (reportPending()) {
          reportTimer = window.setTimeout(reportRefresh, REPORT_POLL_MS);
        }
      });
  }

  if (reportPending()) {
    reportTimer = window.setTimeout(reportRefresh, REPORT_POLL_MS);
  }

  function handleAlert(alert) {
    var id = toId(alert && alert.id);
    if (!id || seen[id]) {
      return;
    }
    seen[id] = true;
    rememberLastId(id);
    if (id <= pageLastId) {
      return; // already in what the server rendered
    }
    if (!alert.read_at) {
      setCount(currentCount() + 1);
    }
    updateCaseloadRow(alert);
    updateChronology(alert);
    announce("New alert: " + alert.summary);
    if (alert.kind === "report.ready") {
      reportRefresh();
    }
  }

  // --- the socket ------------------------------------------------------------------------------

  // <html data-live-alerts="open|closed">: whether live updates are on (open once the server
  // has answered the resume), for styles and tests.
  function setState(state) {
    document.documentElement.setAttribute("data-live-alerts", state);
  }

  function socketUrl() {
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + "/ws/alerts/";
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
    }
  }

  function clearTimers() {
    window.clearInterval(heartbeatTimer);
    window.clearTimeout(pongTimer);
    heartbeatTimer = null;
    pongTimer = null;
  }

  function heartbeat() {
    send({ type: "ping" });
    window.clearTimeout(pongTimer);
    pongTimer = window.setTimeout(function () {
      // No answer: the connection is dead without having closed; start again.
      if (socket) {
        socket.close();
      }
    }, PONG_WAIT_MS);
  }

  function scheduleReconnect() {
    if (stopped || reconnectTimer) {
      return;
    }
    // Exponential backoff with jitter, capped.
    var wait = Math.min(backoff, BACKOFF_MAX_MS);
    wait = wait / 2 + Math.random() * (wait / 2);
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    reconnectTimer = window.setTimeout(function () {
      reconnectTimer = null;
      connect();
    }, wait);
  }

  function connect() {
    if (stopped) {
      return;
    }
    try {
      socket = new WebSocket(socketUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    socket.addEventListener("open", function () {
      send({ type: "resume", after: lastId });
      heartbeatTimer = window.setInterval(heartbeat, HEARTBEAT_MS);
    });
    socket.addEventListener("message", function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (!message || typeof message !== "object") {
        return;
      }
      if (message.type === "alert") {
        handleAlert(message.alert);
      } else if (message.type === "pong") {
        window.clearTimeout(pongTimer);
      } else if (message.type === "resumed") {
        backoff = BACKOFF_FIRST_MS; // a working connection: the next failure starts small
        setState("open");
      }
    });
    socket.addEventListener("close", function (event) {
      clearTimers();
      socket = null;
      setState("closed");
      if (event.code === CLOSE_UNAUTHORISED || event.code === CLOSE_REVOKED) {
        stopped = true; // signed out or no longer allowed: the next page load decides
        return;
      }
      scheduleReconnect();
    });
  }

  window.addEventListener("pagehide", function () {
    stopped = true;
    clearTimers();
    if (socket) {
      socket.close(1000);
    }
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && stopped) {
      // Back from the browser's page cache: connect again, from where we were.
      stopped = false;
      backoff = BACKOFF_FIRST_MS;
      connect();
    }
  });

  connect();
})();
