//! The web view's pages, rendered on the server as plain HTML: the index of findings, a page
//! per finding and the page frame. Everything taken from a folder is escaped (report.md's raw
//! HTML included): a finding is data from a fuzzer, never markup.

use crate::triage::Kind;
use crate::triage::folder::{describe, file_name};
use crate::triage::localise::{FirstDifference, Step, normalise};
use crate::triage::report::Report;
use schism_interface::{TraceFields, TraceStep};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

/// Steps of each trace shown before and after the first differing step.
const TRACE_WINDOW: usize = 8;

/// Text made safe to put in HTML, in an element or a quoted attribute.
pub fn esc(text: &str) -> String {
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

/// A URL query value, percent-encoded (everything but unreserved characters).
pub fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
a{color:#0645ad} nav a{margin-right:1em}
table{border-collapse:collapse;font-size:14px;margin:.5em 0}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f2f2f2} th a{color:#222;text-decoration:none}
tr.diff td{background:#fff3cd} td.bad{background:#f8d7da;font-weight:bold}
tr.after td{color:#888}
code,pre{font-family:ui-monospace,monospace;font-size:13px}
pre{background:#f6f8fa;padding:8px;overflow-x:auto}
.kind-divergence{color:#a40000}.kind-fault{color:#6a0dad}.kind-slow{color:#8a6d00}
.cmd{display:flex;gap:.5em;align-items:center;margin:.25em 0}
.cmd code{background:#f6f8fa;padding:4px 6px;flex:1}
form.filter{margin:.5em 0} .muted{color:#666}
";

/// Copies a command to the clipboard (the page's only script).
const SCRIPT: &str = "
document.querySelectorAll('button[data-copy]').forEach(function(b){b.addEventListener('click',function(){
 var t=document.getElementById(b.getAttribute('data-copy')).textContent;
 function done(){b.textContent='copied';setTimeout(function(){b.textContent='copy'},1500);}
 if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(t).then(done);}
 else{var a=document.createElement('textarea');a.value=t;document.body.appendChild(a);a.select();document.execCommand('copy');a.remove();done();}
});});
";

/// A whole page: the frame, the navigation and `body`.
pub fn page(title: &str, root: &Path, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · schism</title><style>{STYLE}</style></head>\
         <body><nav><a href=\"/\">findings</a><a href=\"/stats\">statistics</a><span class=\"muted\">{}</span></nav>\
         {body}<script>{SCRIPT}</script></body></html>",
        esc(title),
        esc(&root.display().to_string()),
    )
}

/// A finding as the index lists it.
#[derive(Clone, Debug)]
pub struct Row {
    /// The report.
    pub report: Report,
    /// Size of `case.json` in bytes.
    pub case_bytes: u64,
}

impl Row {
    /// Every fork it was seen on.
    pub fn forks(&self) -> Vec<String> {
        let forks: BTreeSet<String> =
            std::iter::once(self.report.fork.clone()).chain(self.report.seen.iter().map(|s| s.fork.clone())).collect();
        forks.into_iter().collect()
    }

    /// Every client and version it was seen with, `id version`.
    pub fn clients(&self) -> Vec<String> {
        let all = self.report.clients.iter().chain(self.report.seen.iter().flat_map(|s| &s.clients));
        let clients: BTreeSet<String> = all.map(|c| format!("{} {}", c.id, c.version)).collect();
        clients.into_iter().collect()
    }

    fn has_client(&self, id: &str) -> bool {
        self.report.client_ids().iter().any(|c| c == id) || self.report.seen.iter().any(|s| s.clients.iter().any(|c| c.id == id))
    }
}

/// What the index shows: a filter and an order, from the query string.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// Only findings a client with this id took part in.
    pub client: Option<String>,
    /// Only findings of this kind (`divergence`, `fault`, `slow`).
    pub kind: Option<String>,
    /// Column to sort by.
    pub sort: Option<String>,
    /// Descending.
    pub desc: bool,
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Divergence => "divergence",
        Kind::Fault => "fault",
        Kind::Slow => "slow",
    }
}

/// The index: every finding, filtered and sorted as `view` says, with the filter form.
pub fn index(rows: &[Row], view: &View, latest: Option<&str>) -> String {
    let mut clients: BTreeSet<String> = BTreeSet::new();
    for row in rows {
        clients.extend(row.report.client_ids());
    }
    let mut shown: Vec<&Row> = rows
        .iter()
        .filter(|r| view.client.as_deref().is_none_or(|c| c.is_empty() || r.has_client(c)))
        .filter(|r| view.kind.as_deref().is_none_or(|k| k.is_empty() || kind_name(r.report.kind) == k))
        .collect();
    let sort = view.sort.as_deref().unwrap_or("last_seen");
    shown.sort_by(|a, b| {
        let (a, b) = (&a.report, &b.report);
        match sort {
            "signature" => a.signature.cmp(&b.signature),
            "kind" => kind_name(a.kind).cmp(kind_name(b.kind)),
            "count" => a.count.cmp(&b.count),
            "first_seen" => a.first_seen.cmp(&b.first_seen),
            "size" => a.minimised.instructions_after.cmp(&b.minimised.instructions_after),
            _ => a.last_seen.cmp(&b.last_seen),
        }
    });
    // Default: most recent first.
    if view.desc || view.sort.is_none() {
        shown.reverse();
    }
    let mut html = format!("<h1>Findings</h1><p>{} of {} findings shown.", shown.len(), rows.len());
    if let Some(latest) = latest {
        let _ = write!(html, " Farm: {} (<a href=\"/stats\">over time</a>).", esc(latest));
    }
    html.push_str("</p><form class=\"filter\" method=\"get\" action=\"/\">client <select name=\"client\"><option value=\"\">any</option>");
    for c in &clients {
        let selected = if view.client.as_deref() == Some(c) { " selected" } else { "" };
        let _ = write!(html, "<option{selected}>{}</option>", esc(c));
    }
    html.push_str("</select> kind <select name=\"kind\"><option value=\"\">any</option>");
    for k in ["divergence", "fault", "slow"] {
        let selected = if view.kind.as_deref() == Some(k) { " selected" } else { "" };
        let _ = write!(html, "<option{selected}>{k}</option>");
    }
    html.push_str("</select> <button type=\"submit\">filter</button> <a href=\"/\">clear</a></form>");
    let filter =
        format!("client={}&kind={}", query_value(view.client.as_deref().unwrap_or("")), query_value(view.kind.as_deref().unwrap_or("")));
    html.push_str("<table id=\"findings\"><thead><tr>");
    for (key, title) in [
        ("signature", "signature"),
        ("kind", "kind"),
        ("", "forks"),
        ("", "clients and versions"),
        ("count", "count"),
        ("first_seen", "first seen"),
        ("last_seen", "last seen"),
        ("size", "minimised size"),
    ] {
        if key.is_empty() {
            let _ = write!(html, "<th>{title}</th>");
        } else {
            let desc = if sort == key && !view.desc && view.sort.is_some() { "&desc=1" } else { "" };
            let mark = if sort == key { if view.desc || view.sort.is_none() { " ▼" } else { " ▲" } } else { "" };
            let _ = write!(html, "<th><a href=\"/?{filter}&sort={key}{desc}\">{title}{mark}</a></th>");
        }
    }
    html.push_str("</tr></thead><tbody>");
    for row in shown {
        let r = &row.report;
        let m = &r.minimised;
        let _ = write!(
            html,
            "<tr><td><a href=\"/finding/{}\">{}</a><br><span class=\"muted\">{}</span></td><td class=\"kind-{kind}\">{kind}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{} instructions, {} accounts; {} bytes</td></tr>",
            query_value(&r.signature),
            esc(&r.signature),
            esc(&describe(r)),
            esc(&row.forks().join(", ")),
            row.clients().iter().map(|c| esc(c)).collect::<Vec<_>>().join("<br>"),
            r.count,
            esc(&r.first_seen),
            esc(&r.last_seen),
            m.instructions_after,
            m.accounts_after,
            row.case_bytes,
            kind = kind_name(r.kind),
        );
    }
    html.push_str("</tbody></table>");
    html
}

/// The files of a finding's folder that the page links to.
#[derive(Clone, Debug, Default)]
pub struct Files {
    /// Top-level files (`case.json`, `report.md`, ...).
    pub top: Vec<String>,
    /// Trace files (`traces/<client>.jsonl`).
    pub traces: Vec<String>,
}

/// A finding's page: summary, links, reproduce commands, the traces side by side around the
/// first differing step, the post-state differences, and report.md rendered.
pub fn finding(folder: &Path, report: &Report, files: &Files, markdown: &str) -> String {
    let sig = &report.signature;
    let link = |name: &str| format!("<a href=\"/files/{}/{}\">{}</a>", query_value(sig), esc(name), esc(name));
    let mut html = format!(
        "<h1>{}</h1><p class=\"kind-{}\"><b>{}</b></p><p>{}</p>",
        esc(sig),
        kind_name(report.kind),
        kind_name(report.kind),
        esc(&describe(report))
    );
    let _ = write!(
        html,
        "<p>Seen {} times, first {}, last {}; on {}.</p>",
        report.count,
        esc(&report.first_seen),
        esc(&report.last_seen),
        esc(&report.seen.iter().map(|s| format!("{} ({}×)", s.fork, s.count)).collect::<Vec<_>>().join(", "))
    );
    let clients: Vec<String> = report.clients.iter().map(|c| format!("{} {}", esc(&c.id), esc(&c.version))).collect();
    let _ = write!(html, "<p>Clients: {}.</p>", clients.join(", "));
    let top: Vec<String> = files.top.iter().map(|f| link(f)).collect();
    let _ = write!(html, "<p>Files: {}", top.join(" · "));
    if !files.traces.is_empty() {
        let traces: Vec<String> = files.traces.iter().map(|f| link(f)).collect();
        let _ = write!(html, "; traces: {}", traces.join(" · "));
    }
    html.push_str(".</p>");

    html.push_str("<h2 id=\"reproduce\">Reproduce</h2>");
    let cd = format!("cd '{}'", folder.display().to_string().replace('\'', "'\\''"));
    let mut commands = vec![("shell".to_owned(), cd)];
    commands.extend(report.reproduce.iter().map(|c| (c.tool.clone(), c.command.clone())));
    for (i, (tool, command)) in commands.iter().enumerate() {
        let _ = write!(
            html,
            "<div class=\"cmd\"><code id=\"cmd-{i}\">{}</code><button type=\"button\" data-copy=\"cmd-{i}\">copy</button><span class=\"muted\">{}</span></div>",
            esc(command),
            esc(tool)
        );
    }

    html.push_str("<h2 id=\"traces\">Traces at the first difference</h2>");
    match &report.first_difference {
        Some(d) => html.push_str(&alignment(folder, d)),
        None => html.push_str("<p class=\"muted\">No trace comparison in this report.</p>"),
    }

    html.push_str("<h2 id=\"state\">Post-state differences</h2>");
    if report.state_differences.is_empty() {
        html.push_str("<p class=\"muted\">None recorded (the clients' post-states agree, or were not dumped).</p>");
    } else {
        let mut columns: Vec<&str> = Vec::new();
        for d in &report.state_differences {
            for (c, _) in &d.values {
                if !columns.contains(&c.as_str()) {
                    columns.push(c);
                }
            }
        }
        html.push_str("<table id=\"state-diff\"><tr><th>account</th><th>what</th>");
        for c in &columns {
            let _ = write!(html, "<th>{}</th>", esc(c));
        }
        html.push_str("</tr>");
        for d in &report.state_differences {
            let _ = write!(html, "<tr><td><code>{}</code></td><td>{}</td>", d.address, esc(&d.what));
            for c in &columns {
                let value = d.values.iter().find(|(k, _)| k == c).map_or("", |(_, v)| v.as_str());
                let _ = write!(html, "<td><code>{}</code></td>", esc(value));
            }
            html.push_str("</tr>");
        }
        html.push_str("</table>");
    }

    html.push_str("<h2 id=\"report\">report.md</h2>");
    html.push_str(&markdown_html(markdown));
    html
}

/// report.md as HTML: tables and the rest of CommonMark, with any raw HTML in it shown as text.
pub fn markdown_html(markdown: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser, html};
    let parser = Parser::new_ext(markdown, Options::ENABLE_TABLES).map(|event| match event {
        Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, parser);
    out
}

/// The traces of the clients at the first difference, side by side: the common steps before
/// it, the differing step (the fields that differ marked), and a few steps after.
fn alignment(folder: &Path, d: &FirstDifference) -> String {
    let Some(index) = d.index else {
        return format!(
            "<p>The traces do not differ (<code>{}</code>): the difference arises outside the traced instructions.</p>",
            esc(&d.culprit)
        );
    };
    let traces: Vec<Option<Vec<TraceStep>>> =
        d.clients.iter().map(|c| read_trace(&folder.join("traces").join(format!("{}.jsonl", file_name(&c.client))))).collect();
    let normalised: Vec<Option<Vec<&TraceStep>>> = traces.iter().map(|t| t.as_ref().map(|t| normalise(t))).collect();
    // What each client reports faithfully shows in its step of the report: a field it does not
    // report was left out there, and is left out here.
    let fields: Vec<TraceFields> = d
        .clients
        .iter()
        .map(|c| match &c.step {
            Some(s) => TraceFields {
                gas_cost: s.gas_cost.is_some(),
                refund: s.refund.is_some(),
                mem_size: s.mem_size.is_some(),
                return_data: s.return_data.is_some(),
            },
            None => TraceFields::ALL,
        })
        .collect();
    let from = index.saturating_sub(TRACE_WINDOW);
    let to = index + TRACE_WINDOW;
    let mut html = format!(
        "<p>The traces agree for {index} steps (STOP steps left out; a field a client does not report is not shown); \
         blamed instruction <code>{}</code>. The steps around step {index}:</p><table id=\"alignment\"><tr><th>step</th>",
        esc(&d.culprit),
    );
    for c in &d.clients {
        let _ = write!(html, "<th>{} <span class=\"muted\">({} steps)</span></th>", esc(&c.client), c.trace_len);
    }
    html.push_str("</tr>");
    for k in from..to {
        let class = match k.cmp(&index) {
            std::cmp::Ordering::Less => "",
            std::cmp::Ordering::Equal => " class=\"diff\"",
            std::cmp::Ordering::Greater => " class=\"after\"",
        };
        let _ = write!(html, "<tr{class}><td>#{k}</td>");
        let mut any = false;
        for ((c, trace), fields) in d.clients.iter().zip(&normalised).zip(&fields) {
            let step = trace.as_ref().and_then(|t| t.get(k).map(|s| Step::of(k, s, *fields)));
            let bad = k == index && !c.differs_in.is_empty();
            let cell = match (&step, trace) {
                (Some(s), _) => {
                    any = true;
                    step_cell(s, if k == index { &c.differs_in } else { &[] })
                }
                (None, Some(_)) => "<span class=\"muted\">(trace ended)</span>".to_owned(),
                (None, None) => "<span class=\"muted\">(no trace file)</span>".to_owned(),
            };
            let _ = write!(html, "<td{}>{cell}</td>", if bad { " class=\"bad\"" } else { "" });
        }
        html.push_str("</tr>");
        if !any && k > index {
            break;
        }
    }
    html.push_str("</table>");
    let differs: Vec<String> = d
        .clients
        .iter()
        .filter(|c| !c.differs_in.is_empty())
        .map(|c| format!("{}: {}", esc(&c.client), esc(&c.differs_in.join(", "))))
        .collect();
    if !differs.is_empty() {
        let _ = write!(
            html,
            "<p>At step {index}, against {}: {}.</p>",
            esc(d.clients.first().map_or("", |c| c.client.as_str())),
            differs.join("; ")
        );
    }
    html
}

/// One step in a cell: the fields that differ in bold.
fn step_cell(s: &Step, differs: &[String]) -> String {
    let mark = |field: &str, text: String| if differs.iter().any(|d| d == field) { format!("<b>{text}</b>") } else { text };
    let stack: Vec<String> = s.stack.iter().take(4).map(|v| format!("{v:#x}")).collect();
    let mut cell = format!(
        "<code>{} {} {} {} {}",
        mark("pc", format!("pc {}", s.pc)),
        mark("op", esc(&s.op)),
        mark("gas", format!("gas {}", s.gas)),
        mark("gas_cost", s.gas_cost.map_or(String::new(), |c| format!("cost {c}"))),
        mark("depth", format!("depth {}", s.depth)),
    );
    if let Some(m) = s.mem_size {
        cell += &format!(" {}", mark("mem_size", format!("mem {m}")));
    }
    if let Some(r) = s.refund {
        cell += &format!(" {}", mark("refund", format!("refund {r}")));
    }
    cell += &format!(" {}", mark("stack", format!("[{}{}]", stack.join(", "), if s.stack.len() > 4 { ", …" } else { "" })));
    cell.push_str("</code>");
    cell
}

/// Most trace steps read from one file: a minimised case's trace is short, and a page is not
/// the place for a million steps.
const TRACE_READ_LIMIT: usize = 100_000;

/// A trace file (`None` when it cannot be read); lines that do not parse are left out.
fn read_trace(path: &Path) -> Option<Vec<TraceStep>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.lines().take(TRACE_READ_LIMIT).filter_map(|l| serde_json::from_str(l).ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_from_a_folder_is_escaped() {
        assert_eq!(esc("<script>\"a\"&'b'</script>"), "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;");
        let html = markdown_html("# t\n\n<script>alert(1)</script>\n\n| a | b |\n|---|---|\n| <img src=x> | `c` |\n");
        assert!(!html.contains("<script>") && !html.contains("<img"), "{html}");
        assert!(html.contains("<table>") && html.contains("<h1>t</h1>"), "{html}");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(query_value("geth@v1.9.16#again"), "geth%40v1.9.16%23again");
    }
}
