//! A counterexample as one self-contained HTML page: a swimlane with one lane per thread and one
//! row per step, drawn from the same execution as the text trace.
//!
//! The text trace stays the source of truth (snapshots, replay strings, fixtures); the page is
//! what goes into a bug report for people to look at. [`render`] is a pure function of a
//! [`ReplayReport`] made by `harness::check::replay_described` (which records every model
//! object's state after each step) and the command that replays it, so the same execution always
//! gives the same bytes.
//!
//! What the page holds, all inline (no network, no external script, style sheet or font):
//! - a header with the scenario and variant, the text trace's headline, the replay command with a
//!   copy button, the setup lines and a legend;
//! - a table with a step-number column and one lane per thread, its rows the trace's rows in order:
//!   each step in its thread's lane in the words of the trace (`call = result`), with what it
//!   changed in the model state under it; notes in their lane as remarks; preemptions marked;
//!   violations as highlighted full-width rows;
//! - the end lines and the violated invariants;
//! - a side panel with every model object's state after the selected step (by default the last),
//!   changed lines marked. ArrowDown or `j` selects the next step, ArrowUp or `k` the previous,
//!   Home and End the first and the last; a click selects a step; `#step-N` in the address selects
//!   step N when the page opens.
//!
//! Printed, the page shows the whole table and the selected step's state below it, without the
//! interactive parts; `prefers-color-scheme: dark` gets a dark palette. Stable ids, classes and
//! data attributes (`tr.step[data-step][data-thread]`, `.call`, `.result`, `tr.note`,
//! `tr.violated`, `#state-panel[data-step]`) are the interface `ci/browser-test.sh` checks.

use harness::check::ReplayReport;
use harness::trace::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The file name of the page of `scenario/variant`: `<scenario>__<variant>.html`, beside the
/// fixture's `<scenario>__<variant>.json`.
pub fn file_name_of(scenario: &str, variant: &str) -> String {
    format!("{scenario}__{variant}.html")
}

/// Escapes `text` for HTML text and for attribute values in double or single quotes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that may sit inside a `<script>` element: `<`, `>` and `&` are written as `\u` escapes,
/// so no string from the trace can close the element or open a comment.
fn script_json(value: &serde_json::Value) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// The text before which two lines of one object's description are "the same thing": a file's
/// path (`/state/w.json = …`), a PID (`pid 100: …`). A changed line is shown once, as its new
/// value, rather than as a removed line and an added one.
fn line_key(line: &str) -> &str {
    line.split_once(" = ").or_else(|| line.split_once(": ")).map_or(line, |(k, _)| k)
}

/// What step `i` changed in the model state, as `(object, line, kind)`: lines of `states[i]` not
/// in the state before it (`initial` for the first step, else `states[i - 1]`) (`Added`), and
/// lines that went with nothing of the same key replacing them (`Gone`). An object missing from
/// the state before is new, except before the first step, where it may simply not have described
/// itself yet: what the first step did to it is not known, and nothing is shown.
fn changes(initial: &[(String, String)], states: &[Vec<(String, String)>], i: usize) -> Vec<(String, String, Change)> {
    let before = match i.checked_sub(1) {
        None => initial,
        Some(p) => states.get(p).map_or(&[][..], Vec::as_slice),
    };
    let Some(after) = states.get(i) else { return Vec::new() };
    let mut out = Vec::new();
    for (object, desc) in after {
        let old = match before.iter().find(|(o, _)| o == object) {
            Some((_, d)) => d.as_str(),
            None if i == 0 => continue,
            None => "",
        };
        if old == desc {
            continue;
        }
        let (old_lines, new_lines): (Vec<&str>, Vec<&str>) = (old.lines().collect(), desc.lines().collect());
        // A one-line state (a lock's holder) that changed is simply its new value.
        let single = old_lines.len() <= 1 && new_lines.len() <= 1;
        let added: Vec<&str> = new_lines.iter().copied().filter(|l| !old_lines.contains(l)).collect();
        for line in &added {
            // A line that grew (a directory's list of changes not yet durable) shows what it gained.
            let grown = old_lines.iter().find(|o| line_key(o) == line_key(line) && line.starts_with(**o));
            let shown = match grown {
                Some(o) => {
                    let label = o.rsplit_once(": ").map_or(line_key(o), |(l, _)| l);
                    format!("{label}: … {}", line[o.len()..].trim_start_matches([',', ' ']))
                }
                None => line.to_string(),
            };
            out.push((object.clone(), shown, Change::Added));
        }
        if single {
            continue;
        }
        for line in old_lines.iter().filter(|l| !new_lines.contains(l)) {
            if !added.iter().any(|a| line_key(a) == line_key(line)) {
                out.push((object.clone(), line.to_string(), Change::Gone));
            }
        }
    }
    out
}

/// How a line of the model state changed at a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    /// The line is new or has a new value.
    Added,
    /// The line is gone (a file removed or renamed away).
    Gone,
}

/// Renders the page of the replayed execution `report`, whose replay command is `replay_command`
/// (shown with a copy button). Same input, same bytes.
pub fn render(report: &ReplayReport, replay_command: &str) -> String {
    let trace = &report.outcome.trace;
    let name = |t: usize| trace.threads.get(t).cloned().unwrap_or_else(|| format!("thread {t}"));
    // The lanes: every thread that has a step or a note, in thread order, as the text trace has
    // its columns.
    let mut lanes: Vec<usize> = trace
        .rows
        .iter()
        .filter_map(|r| match r {
            Row::Step(s) => Some(s.thread),
            Row::Note { thread, .. } => Some(*thread),
            Row::Violated { .. } => None,
        })
        .collect();
    lanes.sort_unstable();
    lanes.dedup();
    let title = format!("{}/{}", report.scenario, report.variant);
    let steps = trace.step_count();
    let changed: Vec<Vec<(String, String, Change)>> =
        (0..steps).map(|i| changes(&trace.initial_state, &trace.states, i)).collect();
    // A violation found before the execution ended was found by the step just before it (an
    // `always` invariant); one found after the last step may be an end check, which no step
    // broke. Steps that changed what a breaking step changed are marked too: the other half of a
    // race is usually there (B's entry into the critical section when A's entry broke it).
    let mut breaks: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    let mut seen = 0;
    for (k, row) in trace.rows.iter().enumerate() {
        match row {
            Row::Step(_) => seen += 1,
            Row::Violated { invariant, .. }
                if seen > 0 && trace.rows[k + 1..].iter().any(|r| matches!(r, Row::Step(_))) =>
            {
                breaks.entry(seen).or_default().push(invariant);
            }
            _ => {}
        }
    }
    let touched: BTreeSet<(&str, &str)> =
        breaks.keys().flat_map(|&n| changed[n - 1].iter().map(|(o, line, _)| (o.as_str(), line_key(line)))).collect();
    let related = |n: usize| {
        !breaks.contains_key(&n)
            && changed[n - 1].iter().any(|(o, line, _)| touched.contains(&(o.as_str(), line_key(line))))
    };
    let headline = report.rendered.lines().next().unwrap_or_default();

    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <meta name=\"generator\" content=\"interleave {}\">\n<title>{}: {}</title>\n<style>\n{STYLE}</style>\n</head>\n",
        env!("CARGO_PKG_VERSION"),
        escape(&title),
        escape(&report.outcome.violation().map_or("no violation".to_string(), |v| format!("violated \"{}\"", v.name)))
    );
    let _ = writeln!(
        h,
        "<body data-scenario=\"{}\" data-variant=\"{}\" data-steps=\"{}\">",
        escape(&report.scenario),
        escape(&report.variant),
        trace.step_count()
    );

    // The header: what this is, how to reproduce it, what was there before.
    let _ = writeln!(h, "<header>\n<h1 id=\"title\">{}</h1>", escape(&title));
    let _ = writeln!(h, "<p id=\"headline\">{}</p>", escape(headline));
    let _ = writeln!(
        h,
        "<div id=\"replay\"><span class=\"label\">replay:</span> <code id=\"replay-command\">{}</code> \
         <button id=\"copy\" type=\"button\" title=\"copy the replay command\">copy</button> \
         <span id=\"copied\" role=\"status\"></span></div>",
        escape(replay_command)
    );
    if !trace.setup.is_empty() {
        h.push_str("<section id=\"setup\"><h2>Setup</h2>\n<ul>\n");
        for line in &trace.setup {
            let _ = writeln!(h, "<li>{}</li>", escape(line));
        }
        h.push_str("</ul></section>\n");
    }
    // The legend names only what the page shows.
    let mut legend = Vec::new();
    if report.preempted.iter().any(|&p| p) {
        legend.push(
            "<span class=\"preempt-mark\">⚡</span> preemption: the scheduler switched threads here although the one \
             before could have gone on",
        );
    }
    if trace.rows.iter().any(|r| matches!(r, Row::Note { .. })) {
        legend.push("<span class=\"remark-sample\">note</span> a remark of the scenario's code");
    }
    if changed.iter().any(|c| !c.is_empty()) {
        legend.push("<span class=\"change-sample\">+ change</span> what the step changed in the model state");
    }
    if trace.rows.iter().any(|r| matches!(r, Row::Violated { .. })) {
        legend.push("<span class=\"violated-sample\">violated</span> an invariant broken here");
    }
    if !touched.is_empty() {
        legend.push(
            "<span class=\"breaks-label\">✖</span> the step that broke an invariant, and \
             <span class=\"hot-sample\">+ change</span> other steps' changes to what it changed",
        );
    }
    h.push_str("<p id=\"legend\">");
    for item in legend {
        let _ = write!(h, "<span class=\"key\">{item}</span> ");
    }
    h.push_str("</p>\n</header>\n");

    // The swimlane.
    h.push_str("<main>\n<div id=\"lanes\">\n<table id=\"trace\">\n<thead><tr><th scope=\"col\" class=\"num\">#</th>");
    for (k, &t) in lanes.iter().enumerate() {
        let _ = write!(
            h,
            "<th scope=\"col\" class=\"lane-head c{}\" data-thread=\"{}\" data-thread-index=\"{t}\">{}</th>",
            k % PALETTE,
            escape(&name(t)),
            escape(&name(t))
        );
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    let columns = lanes.len() + 1;
    let mut n = 0;
    let mut prev_thread: Option<usize> = None;
    for row in &trace.rows {
        match row {
            Row::Step(s) => {
                n += 1;
                let i = n - 1;
                let preempted = report.preempted.get(i).copied().unwrap_or(false);
                let broke = breaks.get(&n);
                let thread = name(s.thread);
                let _ = write!(
                    h,
                    "<tr class=\"step{}{}{}\" id=\"step-{n}\" data-step=\"{n}\" data-thread=\"{}\" \
                     data-thread-index=\"{}\" data-object=\"{}\"{} tabindex=\"-1\">",
                    if preempted { " preempted" } else { "" },
                    if broke.is_some() { " breaks" } else { "" },
                    if related(n) { " related" } else { "" },
                    escape(&thread),
                    s.thread,
                    escape(&s.object),
                    if preempted { " data-preempted=\"true\"" } else { "" },
                );
                let mark = match (preempted, prev_thread) {
                    (true, Some(p)) => format!(
                        "<span class=\"preempt-mark\" title=\"preemption: {0} could have gone on\">⚡</span>",
                        escape(&name(p))
                    ),
                    (true, None) => "<span class=\"preempt-mark\" title=\"preemption\">⚡</span>".to_string(),
                    (false, _) => String::new(),
                };
                let _ = write!(h, "<th scope=\"row\" class=\"num\">{mark}<span class=\"n\">{n}</span></th>");
                for (k, &t) in lanes.iter().enumerate() {
                    if t != s.thread {
                        let _ = write!(h, "<td class=\"lane c{}\"></td>", k % PALETTE);
                        continue;
                    }
                    let _ = write!(h, "<td class=\"lane c{} mine\">", k % PALETTE);
                    if let (true, Some(p)) = (preempted, prev_thread) {
                        let _ = write!(h, "<div class=\"preempt-label\">⚡ preempts {}</div>", escape(&name(p)));
                    }
                    if let Some(invariants) = broke {
                        let shown: Vec<String> = invariants.iter().map(|v| format!("“{}”", escape(v))).collect();
                        let _ = write!(h, "<div class=\"breaks-label\">✖ this step broke {}</div>", shown.join(", "));
                    }
                    let _ = write!(h, "<div class=\"op\"><code class=\"call\">{}</code>", escape(&s.call));
                    if !s.result.is_empty() {
                        let _ = write!(
                            h,
                            " <span class=\"eq\">=</span> <code class=\"result\">{}</code>",
                            escape(&s.result)
                        );
                    }
                    h.push_str("</div>");
                    if !changed[i].is_empty() {
                        h.push_str("<ul class=\"changes\">");
                        for (object, line, kind) in &changed[i] {
                            let (class, sign) = match kind {
                                Change::Added => ("added", "+"),
                                Change::Gone => ("gone", "−"),
                            };
                            let hot = if touched.contains(&(object.as_str(), line_key(line))) { " hot" } else { "" };
                            let _ = write!(
                                h,
                                "<li class=\"{class}{hot}\" data-object=\"{0}\"><span class=\"sign\">{sign}</span> \
                                 <span class=\"object\">{0}:</span> <span class=\"line\">{1}</span></li>",
                                escape(object),
                                escape(line),
                            );
                        }
                        h.push_str("</ul>");
                    }
                    h.push_str("</td>");
                }
                h.push_str("</tr>\n");
                prev_thread = Some(s.thread);
            }
            Row::Note { thread, text } => {
                let _ = write!(
                    h,
                    "<tr class=\"note\" data-thread=\"{}\" data-thread-index=\"{thread}\" data-after-step=\"{n}\">\
                     <th scope=\"row\" class=\"num\"></th>",
                    escape(&name(*thread)),
                );
                for (k, &t) in lanes.iter().enumerate() {
                    if t == *thread {
                        let _ = write!(
                            h,
                            "<td class=\"lane c{} mine\"><div class=\"remark\"><span class=\"who\">{}:</span> \
                             <span class=\"text\">{}</span></div></td>",
                            k % PALETTE,
                            escape(&name(t)),
                            escape(text)
                        );
                    } else {
                        let _ = write!(h, "<td class=\"lane c{}\"></td>", k % PALETTE);
                    }
                }
                h.push_str("</tr>\n");
            }
            Row::Violated { invariant, detail } => {
                let _ = writeln!(
                    h,
                    "<tr class=\"violated\" data-invariant=\"{0}\" data-after-step=\"{n}\"><td colspan=\"{columns}\">\
                     <span class=\"bang\">violated</span> <q class=\"invariant\">{0}</q>: <span class=\"detail\">{1}</span>\
                     </td></tr>",
                    escape(invariant),
                    escape(detail)
                );
            }
        }
    }
    h.push_str("</tbody>\n</table>\n");
    if !trace.end.is_empty() {
        h.push_str("<section id=\"end\"><h2>End</h2>\n<ul>\n");
        for line in &trace.end {
            let _ = writeln!(h, "<li>{}</li>", escape(line));
        }
        h.push_str("</ul></section>\n");
    }
    h.push_str("<section id=\"verdict\"><h2>Verdict</h2>\n");
    if report.outcome.violations.is_empty() {
        h.push_str("<p class=\"none\">no invariant was violated</p>\n");
    } else {
        h.push_str("<ul>\n");
        for v in &report.outcome.violations {
            let _ = writeln!(
                h,
                "<li class=\"violation\" data-invariant=\"{0}\" data-at-step=\"{2}\">violated <q>{0}</q> after step \
                 <a href=\"#step-{2}\">{2}</a>: {1}</li>",
                escape(&v.name),
                escape(&v.detail),
                v.at_step
            );
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</section>\n</div>\n");

    // The side panel: filled by the script from the data below, for the selected step.
    h.push_str(
        "<aside id=\"state-panel\" aria-live=\"polite\" aria-label=\"model state after the selected step\">\n\
         <h2>State after step <span id=\"state-step\">–</span> <span id=\"state-thread\"></span></h2>\n\
         <p id=\"state-call\"></p>\n<div id=\"state-objects\"><noscript>The state panel needs JavaScript; what \
         each step changed is shown under it.</noscript></div>\n\
         <p class=\"hint\"><kbd>↓</kbd>/<kbd>j</kbd> next step, <kbd>↑</kbd>/<kbd>k</kbd> previous, \
         <kbd>Home</kbd>/<kbd>End</kbd> first and last; click a step to select it.</p>\n</aside>\n</main>\n",
    );

    // Every distinct (object, description) once; each step lists the ones it had, by index.
    let mut ids: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut descs: Vec<serde_json::Value> = Vec::new();
    let mut state_ids = |state: &[(String, String)]| -> serde_json::Value {
        state
            .iter()
            .map(|(object, desc)| {
                let next = descs.len();
                let id = *ids.entry((object.clone(), desc.clone())).or_insert(next);
                if id == next {
                    descs.push(serde_json::json!([object, desc]));
                }
                serde_json::json!(id)
            })
            .collect()
    };
    let initial = state_ids(&trace.initial_state);
    let per_step: Vec<serde_json::Value> = trace.states.iter().map(|s| state_ids(s)).collect();
    let data = serde_json::json!({ "descs": descs, "initial": initial, "steps": per_step });
    let _ = writeln!(h, "<script type=\"application/json\" id=\"interleave-data\">{}</script>", script_json(&data));
    let _ = write!(h, "<script>\n{SCRIPT}</script>\n</body>\n</html>\n");
    h
}

/// Lane colours in the style sheet (`.c0` … `.c5`), reused past six threads.
const PALETTE: usize = 6;

/// The page's style sheet: light, dark and print.
const STYLE: &str = r##":root {
  --bg: #ffffff; --fg: #1b1f24; --muted: #59636e; --rule: #d1d9e0; --row-alt: #f6f8fa;
  --sel: #fff3bf; --sel-edge: #bf8700; --bad-bg: #ffebe9; --bad-fg: #a40e26; --bad-edge: #cf222e;
  --note-bg: #fff8c5; --note-edge: #d4a72c; --add: #116329; --gone: #82071e; --code-bg: #eff2f5;
  --c0: #0969da; --c1: #bc4c00; --c2: #1a7f37; --c3: #8250df; --c4: #bf3989; --c5: #1b7c83;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --rule: #3d444d; --row-alt: #151b23;
    --sel: #3b2e00; --sel-edge: #d29922; --bad-bg: #3c1618; --bad-fg: #ffa198; --bad-edge: #f85149;
    --note-bg: #2e2a10; --note-edge: #bb8009; --add: #56d364; --gone: #ff7b72; --code-bg: #1f2630;
    --c0: #4493f8; --c1: #f0883e; --c2: #3fb950; --c3: #ab7df8; --c4: #f778ba; --c5: #39c5cf;
  }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 1rem 1.25rem; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
code, pre, kbd { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 12.5px; }
h1 { font-size: 1.35rem; margin: 0 0 .25rem; }
h2 { font-size: 1rem; margin: .75rem 0 .25rem; }
#headline { margin: 0 0 .5rem; font-weight: 600; color: var(--bad-fg); }
#replay { margin: .25rem 0 .5rem; }
#replay code { background: var(--code-bg); padding: .15rem .4rem; border-radius: 4px; word-break: break-all; }
#replay .label { color: var(--muted); }
button { font: inherit; padding: .1rem .6rem; border: 1px solid var(--rule); border-radius: 4px;
  background: var(--code-bg); color: var(--fg); cursor: pointer; }
button:focus-visible, tr.step:focus-visible { outline: 2px solid var(--sel-edge); outline-offset: -2px; }
#copied { color: var(--add); margin-left: .4rem; }
#setup ul, #end ul, #verdict ul { margin: 0; padding-left: 1.2rem; }
#setup h2 { display: none; }
#setup { color: var(--muted); }
#setup ul { list-style: none; padding-left: 0; }
#setup li::before { content: "setup: "; font-size: .85em; }
#legend { color: var(--muted); font-size: 12.5px; margin: .5rem 0; }
#legend .key { margin-right: 1.2rem; white-space: nowrap; }
.remark-sample { background: var(--note-bg); border-left: 3px solid var(--note-edge); padding: 0 .3rem; color: var(--fg); }
.change-sample { color: var(--add); font-family: ui-monospace, monospace; }
.violated-sample { background: var(--bad-bg); color: var(--bad-fg); border-left: 3px solid var(--bad-edge); padding: 0 .3rem; font-weight: 600; }
main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(18rem, 26rem); gap: 1rem; align-items: start; }
#trace { border-collapse: collapse; width: 100%; table-layout: fixed; }
#trace th.num { width: 3.2rem; text-align: right; padding-right: .5rem; color: var(--muted); font-weight: normal;
  font-variant-numeric: tabular-nums; vertical-align: top; }
#trace thead th { position: sticky; top: 0; background: var(--bg); text-align: left; padding: .3rem .5rem;
  border-bottom: 2px solid var(--rule); z-index: 1; }
#trace thead th.lane-head { border-bottom-width: 3px; }
#trace td { padding: .15rem .5rem; vertical-align: top; border-left: 1px solid var(--rule); overflow-wrap: anywhere; }
#trace tr.step { cursor: pointer; scroll-margin-top: 3rem; }
#trace tr.step:nth-child(even) td, #trace tr.step:nth-child(even) th { background: var(--row-alt); }
#trace tr.step td.mine { border-left: 4px solid var(--lane); }
#trace tr.step.selected td, #trace tr.step.selected th { background: var(--sel); }
#trace tr.step.selected th.num { box-shadow: inset 4px 0 0 var(--sel-edge); color: var(--fg); font-weight: 600; }
#trace tr.step.preempted td, #trace tr.step.preempted th { border-top: 2px dashed var(--sel-edge); }
.preempt-mark { color: var(--sel-edge); margin-right: .2rem; }
.breaks-label { font-size: 11.5px; color: var(--bad-fg); font-weight: 700; }
#trace tr.step.breaks th.num, #trace tr.step.related th.num { box-shadow: inset 4px 0 0 var(--bad-edge); }
ul.changes li.hot, .hot-sample { background: var(--bad-bg); color: var(--bad-fg); font-weight: 700; padding: 0 .2rem; border-radius: 3px; }
.hot-sample { font-family: ui-monospace, monospace; }
.preempt-label { font-size: 11.5px; color: var(--sel-edge); font-weight: 600; }
.op code { background: none; }
.op .eq { color: var(--muted); }
.op .result { font-weight: 600; }
ul.changes { list-style: none; margin: .05rem 0 .1rem; padding: 0; font-family: ui-monospace, monospace; font-size: 11.5px; }
ul.changes li.added { color: var(--add); }
ul.changes li.gone { color: var(--gone); text-decoration: line-through; }
ul.changes .object { color: var(--muted); }
#trace tr.note td.mine { border-left: 4px solid var(--lane); }
.remark { background: var(--note-bg); border-left: 3px solid var(--note-edge); padding: .2rem .45rem; margin: .1rem 0;
  font-weight: 600; border-radius: 0 4px 4px 0; }
.remark .who { color: var(--lane); }
#trace tr.violated td { background: var(--bad-bg); color: var(--bad-fg); border-left: 4px solid var(--bad-edge);
  padding: .35rem .6rem; font-weight: 600; }
.bang { text-transform: uppercase; letter-spacing: .04em; font-size: 12px; border: 1px solid var(--bad-edge);
  border-radius: 3px; padding: 0 .3rem; margin-right: .3rem; }
.c0 { --lane: var(--c0); } .c1 { --lane: var(--c1); } .c2 { --lane: var(--c2); }
.c3 { --lane: var(--c3); } .c4 { --lane: var(--c4); } .c5 { --lane: var(--c5); }
th.lane-head { color: var(--lane); border-bottom-color: var(--lane) !important; }
#end, #verdict { margin-top: .5rem; }
#verdict li { color: var(--bad-fg); }
#verdict a { color: inherit; }
#state-panel { position: sticky; top: .5rem; max-height: calc(100vh - 1rem); overflow: auto; border: 1px solid var(--rule);
  border-radius: 6px; padding: .25rem .75rem .5rem; background: var(--bg); }
#state-panel h2 { margin-top: .4rem; }
#state-call { margin: 0 0 .4rem; font-family: ui-monospace, monospace; font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
#state-objects section { margin: .35rem 0; }
#state-objects h3 { font-size: 12.5px; margin: 0; color: var(--muted); font-weight: 600; }
#state-objects section.changed h3::after { content: " · changed by this step"; color: var(--add); font-weight: normal; }
#state-objects pre { margin: .1rem 0 0; padding: .3rem .4rem; background: var(--code-bg); border-radius: 4px;
  white-space: pre-wrap; overflow-wrap: anywhere; }
#state-objects .new { color: var(--add); font-weight: 600; }
.hint { color: var(--muted); font-size: 12px; }
kbd { border: 1px solid var(--rule); border-radius: 3px; padding: 0 .25rem; font-size: 11px; }
@media (max-width: 60rem) { main { grid-template-columns: 1fr; } #state-panel { position: static; max-height: none; } }
@media print {
  :root { --bg: #fff; --fg: #000; --muted: #444; --row-alt: #fff; --sel: #fff; --code-bg: #f3f3f3; }
  body { padding: 0; font-size: 11px; }
  main { display: block; }
  #copy, #copied, .hint { display: none; }
  #trace thead { display: table-header-group; }
  #trace thead th { position: static; }
  #trace tr { break-inside: avoid; }
  #trace tr.step.selected th.num { box-shadow: none; font-weight: normal; }
  #state-panel { position: static; max-height: none; overflow: visible; border: none; padding: 0; margin-top: 1rem;
    break-before: auto; }
}
"##;

/// The page's script: selection, the side panel, the keyboard and the copy button.
const SCRIPT: &str = r##"(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("interleave-data").textContent);
  var rows = Array.prototype.slice.call(document.querySelectorAll("#trace tr.step"));
  var panel = document.getElementById("state-panel");
  var current = -1;

  // The description of `object` in the state `ids` (a step's, or the initial one), or null.
  function descIn(ids, object) {
    for (var k = 0; k < ids.length; k++) {
      var d = data.descs[ids[k]];
      if (d[0] === object) { return d[1]; }
    }
    return null;
  }

  function show(i) {
    var row = rows[i];
    var n = Number(row.getAttribute("data-step"));
    var objects = document.getElementById("state-objects");
    objects.textContent = "";
    document.getElementById("state-step").textContent = String(n);
    document.getElementById("state-thread").textContent = "(" + row.getAttribute("data-thread") + ")";
    document.getElementById("state-call").textContent = row.querySelector(".op").textContent;
    var ids = data.steps[n - 1];
    if (!ids) {
      var p = document.createElement("p");
      p.textContent = "no model state was recorded for this step";
      objects.appendChild(p);
    } else {
      // Before the first step an object that had not described itself yet is not known to be new.
      var prev = n > 1 ? data.steps[n - 2] || [] : data.initial || [];
      ids.forEach(function (id) {
        var object = data.descs[id][0], text = data.descs[id][1];
        var before = descIn(prev, object);
        var known = n > 1 || before !== null;
        var section = document.createElement("section");
        section.setAttribute("data-object", object);
        if (known && before !== text) { section.className = "changed"; }
        var h = document.createElement("h3");
        h.textContent = object;
        var pre = document.createElement("pre");
        var old = before === null ? [] : before.split("\n");
        text.split("\n").forEach(function (line, k) {
          if (k > 0) { pre.appendChild(document.createTextNode("\n")); }
          var span = document.createElement("span");
          span.textContent = line;
          if (known && old.indexOf(line) < 0) { span.className = "new"; }
          pre.appendChild(span);
        });
        section.appendChild(h);
        section.appendChild(pre);
        objects.appendChild(section);
      });
    }
    panel.setAttribute("data-step", String(n));
  }

  function select(i, focus) {
    if (rows.length === 0) { return; }
    i = Math.max(0, Math.min(rows.length - 1, i));
    if (current >= 0) {
      rows[current].classList.remove("selected");
      rows[current].setAttribute("tabindex", "-1");
      rows[current].removeAttribute("aria-current");
    }
    current = i;
    var row = rows[i];
    row.classList.add("selected");
    row.setAttribute("tabindex", "0");
    row.setAttribute("aria-current", "step");
    show(i);
    document.body.setAttribute("data-selected-step", row.getAttribute("data-step"));
    if (focus) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  rows.forEach(function (row, i) {
    row.addEventListener("click", function () { select(i, true); });
  });

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) { return; }
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA")) { return; }
    var to = null;
    switch (e.key) {
      case "ArrowDown": case "j": to = current + 1; break;
      case "ArrowUp": case "k": to = current - 1; break;
      case "Home": to = 0; break;
      case "End": to = rows.length - 1; break;
      default: return;
    }
    e.preventDefault();
    select(to, true);
  });

  var copy = document.getElementById("copy");
  var copied = document.getElementById("copied");
  copy.addEventListener("click", function () {
    var text = document.getElementById("replay-command").textContent;
    function fallback() {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
      document.body.removeChild(area);
      copied.textContent = ok ? "copied" : "select the command and copy it";
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied.textContent = "copied"; }, fallback);
    } else {
      fallback();
    }
  });

  var m = /^#step-(\d+)$/.exec(window.location.hash);
  var start = rows.length - 1;
  if (m) {
    var wanted = Number(m[1]);
    rows.forEach(function (row, i) { if (Number(row.getAttribute("data-step")) === wanted) { start = i; } });
  }
  select(start, false);
  document.body.setAttribute("data-ready", "true");
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use harness::trace::{Step, Trace};
    use harness::world::ExecOutcome;

    fn step(thread: usize, call: &str, result: &str) -> Row {
        let mut s = Step::new(call, result);
        s.thread = thread;
        s.object = "fs".into();
        Row::Step(s)
    }

    /// A two-thread execution whose trace holds every character HTML gives a meaning to.
    fn report(hostile: &str) -> ReplayReport {
        let trace = Trace {
            threads: vec!["main".into(), "A".into(), format!("B{hostile}")],
            setup: vec![format!("/x = {hostile}")],
            rows: vec![
                step(1, &format!("write(fd 3, {hostile})"), "3"),
                Row::Note { thread: 2, text: format!("remark {hostile}") },
                step(2, "unlink(\"/x\")", &format!("ok {hostile}")),
                Row::Violated { invariant: format!("inv {hostile}"), detail: format!("detail {hostile}") },
            ],
            end: vec![format!("end {hostile}")],
            states: vec![vec![("fs".into(), "/x = \"1\"".into())], vec![("fs".into(), format!("/y = {hostile}"))]],
            initial_state: vec![("fs".into(), format!("/x = {hostile}"))],
        };
        ReplayReport {
            scenario: "s".into(),
            variant: "v".into(),
            outcome: ExecOutcome { trace, ..ExecOutcome::default() },
            rendered: format!("s/v: violated \"inv {hostile}\" after 2 steps, 1 preemption\n"),
            preempted: vec![false, true],
        }
    }

    #[test]
    fn every_string_from_the_trace_is_escaped() {
        let hostile = "<script>alert('x')</script> & \"q\" <!-- </style>";
        let page = render(&report(hostile), &format!("interleave replay {hostile}"));
        // The page's own two scripts and one style sheet, and no element the trace's text opened.
        assert_eq!(page.matches("<script").count(), 2, "{page}");
        assert_eq!(page.matches("</script>").count(), 2, "{page}");
        assert_eq!(page.matches("</style>").count(), 1, "{page}");
        assert!(!page.contains("<!--"), "{page}");
        // In the script's data the same text survives as JSON escapes, and parses back to itself;
        // everywhere else it is HTML-escaped.
        let start = page.find("id=\"interleave-data\">").unwrap() + "id=\"interleave-data\">".len();
        let json = &page[start..start + page[start..].find("</script>").unwrap()];
        let markup = page.replace(json, "");
        assert!(!markup.contains("alert('x')"), "{markup}");
        assert!(markup.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"), "{markup}");
        let data: serde_json::Value = serde_json::from_str(json).unwrap();
        let descs = data["descs"].as_array().unwrap();
        assert!(descs.contains(&serde_json::json!(["fs", format!("/y = {hostile}")])), "{data}");
        assert!(descs.contains(&serde_json::json!(["fs", format!("/x = {hostile}")])), "{data}");
    }

    #[test]
    fn the_same_execution_renders_to_the_same_bytes() {
        let a = render(&report("x"), "interleave replay r");
        let b = render(&report("x"), "interleave replay r");
        assert_eq!(a, b);
        assert_ne!(a, render(&report("y"), "interleave replay r"));
    }

    #[test]
    fn rows_keep_their_order_lane_and_preemption() {
        let page = render(&report("x"), "interleave replay r");
        let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("{needle} not in {page}"));
        assert!(at("id=\"step-1\" data-step=\"1\" data-thread=\"A\"") < at("class=\"note\" data-thread=\"Bx\""));
        assert!(at("class=\"note\"") < at("class=\"step preempted\" id=\"step-2\" data-step=\"2\" data-thread=\"Bx\""));
        assert!(at("id=\"step-2\"") < at("class=\"violated\""));
        assert!(page.contains("⚡ preempts A"), "{page}");
        // The main thread made no step: no lane for it.
        assert!(!page.contains("data-thread=\"main\""), "{page}");
    }

    #[test]
    fn a_step_shows_what_it_changed() {
        let states = vec![
            vec![("fs".to_string(), "/a = \"1\"\n/lock = \"101\"".to_string()), ("m".into(), "free".into())],
            vec![("fs".to_string(), "/a = \"2\"\n/removing = \"101\"".to_string()), ("m".into(), "held by A".into())],
        ];
        assert!(changes(&[], &states, 0).is_empty(), "the state before the first step is unknown");
        let initial = vec![("fs".to_string(), "/a = \"0\"".to_string())];
        assert_eq!(
            changes(&initial, &states, 0),
            [
                ("fs".to_string(), "/a = \"1\"".to_string(), Change::Added),
                ("fs".to_string(), "/lock = \"101\"".to_string(), Change::Added),
            ],
            "m had not described itself before the first step"
        );
        assert_eq!(
            changes(&initial, &states, 1),
            [
                ("fs".to_string(), "/a = \"2\"".to_string(), Change::Added),
                ("fs".to_string(), "/removing = \"101\"".to_string(), Change::Added),
                ("fs".to_string(), "/lock = \"101\"".to_string(), Change::Gone),
                ("m".to_string(), "held by A".to_string(), Change::Added),
            ]
        );
    }
}
