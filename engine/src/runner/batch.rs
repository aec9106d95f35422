//! Batches: the run's cases handed to the clients several at a time, so that a client that
//! pipelines ([`Client::pipelines`], a subprocess client keeping cases in flight in its child)
//! runs a batch for the cost of its own batch runner. Every case gets the seats the panel
//! would give it case by case: the same skips, excuses, panic guard and faults.

use crate::panel::{self, Entry, Excuse, Fault, Panel, Seat, guarded};
use rayon::prelude::*;
use schism_interface::{Case, Client, ClientError, Outcome, TraceMode};
use std::time::{Duration, Instant};

/// The most cases in one batch.
pub const MAX_BATCH: usize = 64;

/// The batches of `order` (positions of cases) for `threads` workers: enough batches that
/// every worker gets several, of at most [`MAX_BATCH`] cases. Batches are striped (batch `b`
/// takes every `n`-th position from `b`), so a longest-first order spreads its heavy cases
/// over all of them instead of queueing them in one, and each batch keeps that order.
pub fn batches(order: &[usize], threads: usize) -> Vec<Vec<usize>> {
    if order.is_empty() {
        return Vec::new();
    }
    let len = (order.len() / (threads.max(1) * 4)).clamp(1, MAX_BATCH);
    let n = order.len().div_ceil(len);
    (0..n).map(|b| order.iter().skip(b).step_by(n).copied().collect()).collect()
}

/// Like [`batches`], but the positions `group` maps to one value stay together in one batch:
/// the groups, in the order of their first position in `order`, are striped over the batches
/// whole (a subprocess client may then hand the cases of one test to its tool in one file).
pub fn grouped_batches<K: std::hash::Hash + Eq>(order: &[usize], threads: usize, group: impl Fn(usize) -> K) -> Vec<Vec<usize>> {
    if order.is_empty() {
        return Vec::new();
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut at: std::collections::HashMap<K, usize> = std::collections::HashMap::new();
    for &i in order {
        let slot = *at.entry(group(i)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[slot].push(i);
    }
    let len = (order.len() / (threads.max(1) * 4)).clamp(1, MAX_BATCH);
    let n = order.len().div_ceil(len).min(groups.len());
    (0..n).map(|b| groups.iter().skip(b).step_by(n).flatten().copied().collect()).collect()
}

/// Runs `cases` on every client of `panel` (no traces, known differences judged after the
/// run, clients in parallel): one row of seats per case, in panel order.
pub fn run(cases: &[&Case], panel: &Panel) -> Vec<Vec<Seat<Outcome>>> {
    let columns: Vec<Vec<Seat<Outcome>>> = panel.seats().par_iter().map(|(label, client)| column(label, client.as_ref(), cases)).collect();
    let mut rows: Vec<Vec<Seat<Outcome>>> = (0..cases.len()).map(|_| Vec::with_capacity(columns.len())).collect();
    for column in columns {
        for (row, seat) in rows.iter_mut().zip(column) {
            row.push(seat);
        }
    }
    rows
}

/// One client's seats on the cases of a batch: as one batch when it pipelines, else case by
/// case.
fn column(label: &str, client: &dyn Client, cases: &[&Case]) -> Vec<Seat<Outcome>> {
    const EXCUSE: Excuse = Excuse::Unrepresentable;
    if !client.pipelines() {
        return cases.iter().map(|case| panel::sit(label, client, *case, TraceMode::Off, EXCUSE, None)).collect();
    }
    let seat = |entry, took| Seat { label: label.to_owned(), entry, took };
    let mut seats: Vec<Option<Seat<Outcome>>> =
        cases.iter().map(|case| panel::kept_out(client, *case, EXCUSE).map(|entry| seat(entry, Duration::ZERO))).collect();
    let admitted: Vec<usize> = (0..cases.len()).filter(|&i| seats[i].is_none()).collect();
    let run: Vec<&Case> = admitted.iter().map(|&i| cases[i]).collect();
    // A case's time runs from the previous result (or the start) to its own.
    let mut last = Instant::now();
    let ran = guarded(label, || {
        client.execute_batch(&run, TraceMode::Off, &mut |j, result| {
            let now = Instant::now();
            if let (Some(&i), Some(case)) = (admitted.get(j), run.get(j)) {
                seats[i] = Some(seat(panel::entry(label, client, *case, result), now - last));
            }
            last = now;
        });
        Ok(())
    });
    // A panic in the client: the fault of every case it had not answered.
    let unanswered = ran.err().map(|e| Fault::of(label, &e));
    seats
        .into_iter()
        .map(|s| {
            s.unwrap_or_else(|| {
                let fault = unanswered.clone().unwrap_or_else(|| {
                    let detail = "the batch gave no result for the case".to_owned();
                    Fault::of(label, &ClientError::Execution { client: label.to_owned(), detail })
                });
                seat(Entry::Fault(fault), Duration::ZERO)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_striped_and_cover_every_case_once() {
        let order: Vec<usize> = (0..1000).rev().collect();
        let batches = batches(&order, 2);
        assert!(batches.iter().all(|b| b.len() <= MAX_BATCH));
        assert!(batches.len() >= 8, "several batches per worker");
        let mut all: Vec<usize> = batches.concat();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(batches[0][..3], [999, 999 - batches.len(), 999 - 2 * batches.len()], "striped, in order");
        assert_eq!(super::batches(&[5, 6, 7], 16), vec![vec![5], vec![6], vec![7]]);
        assert!(super::batches(&[], 1).is_empty());
    }

    #[test]
    fn grouped_batches_keep_each_group_whole_and_cover_every_case_once() {
        // 300 cases in groups of 7 neighbours (the last of 6), heaviest first.
        let order: Vec<usize> = (0..300).rev().collect();
        let group = |i: usize| i / 7;
        let batches = grouped_batches(&order, 2, group);
        assert!(batches.len() > 2, "several batches");
        for (b, batch) in batches.iter().enumerate() {
            for other in &batches[b + 1..] {
                assert!(batch.iter().all(|&i| other.iter().all(|&j| group(i) != group(j))), "a group split over two batches");
            }
        }
        let mut all: Vec<usize> = batches.concat();
        all.sort_unstable();
        assert_eq!(all, (0..300).collect::<Vec<_>>());
        assert_eq!(grouped_batches(&[4, 5, 6], 2, |_| 0), vec![vec![4, 5, 6]], "one group, one batch");
        assert!(grouped_batches(&[], 1, |i| i).is_empty());
    }
}
