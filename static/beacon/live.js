/*
 * Beacon live updates, for the incident page and the incident lists.
 *
 * Polls the page's change feed (a same-origin JSON endpoint) every few seconds:
 *  - on an incident page ([data-live-timeline]), when something new happened, the
 *    timeline is reloaded from its HTML fragment, and a notice says when the status changed;
 *  - on a list ([data-live-queue]), a notice offers to refresh when incidents changed.
 * Without JavaScript the pages are complete; a reload shows the same.
 */
(function () {
  "use strict";

  var MAX_FAILURES = 5;

  function seconds(element) {
    var value = parseInt(element.getAttribute("data-poll-seconds"), 10);
    return value > 0 ? value : 10;
  }

  function withParam(url, name, value) {
    return url + (url.indexOf("?") === -1 ? "?" : "&") + name + "=" + encodeURIComponent(value);
  }

  function get(url, type) {
    return fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: type === "json" ? "application/json" : "text/html" },
    }).then(function (response) {
      // A redirect means the session ended: the login page is not what was asked for.
      if (!response.ok || response.redirected) {
        throw new Error("HTTP " + response.status);
      }
      return type === "json" ? response.json() : response.text();
    });
  }

  // Runs task() every few seconds while the tab is visible; stops after repeated failures.
  function every(interval, task) {
    var failures = 0;
    function schedule() {
      window.setTimeout(tick, interval * 1000);
    }
    function tick() {
      if (document.hidden) {
        schedule();
        return;
      }
      Promise.resolve()
        .then(task)
        .then(
          function () {
            failures = 0;
            schedule();
          },
          function () {
            failures += 1;
            if (failures < MAX_FAILURES) {
              schedule();
            }
          }
        );
    }
    schedule();
  }

  function watchIncident(timeline) {
    var since = timeline.getAttribute("data-since");
    var status = timeline.getAttribute("data-status");
    var notice = document.getElementById("incident-live-notice");
    var badge = document.querySelector("[data-live-status]");
    every(seconds(timeline), function () {
      var url = withParam(timeline.getAttribute("data-changes-url"), "since", since);
      return get(url, "json").then(function (changes) {
        if (!changes.changed) {
          return;
        }
        return get(timeline.getAttribute("data-timeline-url"), "html").then(function (html) {
          // A fragment rendered (and escaped) by this origin's templates.
          timeline.innerHTML = html;
          since = String(changes.since);
          if (changes.status !== status) {
            if (badge) {
              badge.textContent = changes.status_label;
              badge.className = "badge status-" + changes.status;
            }
            if (notice) {
              notice.querySelector("[data-status-label]").textContent = changes.status_label;
              notice.hidden = false;
            }
          }
        });
      });
    });
  }

  function watchList(element) {
    var since = element.getAttribute("data-since");
    var count = element.querySelector("[data-count]");
    every(seconds(element), function () {
      var url = withParam(element.getAttribute("data-changes-url"), "since", since);
      return get(url, "json").then(function (changes) {
        if (changes.changed > 0) {
          var n = changes.capped ? changes.changed + "+" : String(changes.changed);
          count.textContent =
            n + (changes.changed === 1 ? " new or changed incident" : " new or changed incidents");
          element.hidden = false;
        }
      });
    });
  }

  function start() {
    var timeline = document.querySelector("[data-live-timeline]");
    if (timeline && window.fetch) {
      watchIncident(timeline);
    }
    var list = document.querySelector("[data-live-queue]");
    if (list && window.fetch) {
      watchList(list);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
