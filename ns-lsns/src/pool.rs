//! Reading many processes on a few threads. Reading `/proc` is mostly the
//! kernel's work, which runs in parallel; the threads start only when
//! there is enough to share, and start on the first PIDs while `/proc`
//! is still being listed.

use std::io;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// PIDs handed to a thread at a time.
const CHUNK: usize = 64;
/// Below this many PIDs one thread does it all: starting another costs
/// more than it saves.
const PARALLEL_FROM: usize = 256;

/// How many threads may read: the CPUs this process may run on, at most
/// 4. (Not `available_parallelism`, which also reads cgroup files: a
/// dozen system calls for a process that lives a few milliseconds.)
pub fn reader_threads() -> usize {
    // SAFETY: a zeroed cpu_set_t is valid; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is this thread; size and pointer match.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        return 1;
    }
    // SAFETY: set was filled in by the kernel.
    (unsafe { libc::CPU_COUNT(&set) } as usize).clamp(1, 4)
}

/// PIDs listed so far and how many of them threads have taken.
struct Queue {
    pids: Vec<i32>,
    taken: usize,
    listed: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `each` of the PIDs `list` produces, results in the order listed.
///
/// Every thread takes chunks of consecutive PIDs in ascending order and
/// keeps one `state` (made by `state`) across its chunks: so a thread's
/// state has seen only PIDs below the one at hand, which is what
/// [`crate::namespaces`] needs to guess which processes a listing shows.
pub fn map_listed<S, T: Send>(
    list: impl FnOnce(&mut dyn FnMut(i32)) -> io::Result<()>,
    state: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, i32) -> T + Sync,
) -> io::Result<Vec<T>> {
    let threads = reader_threads();
    let queue = Mutex::new(Queue {
        pids: Vec::new(),
        taken: 0,
        listed: false,
    });
    let more = Condvar::new();
    let results: Mutex<Vec<(usize, Vec<T>)>> = Mutex::new(Vec::new());

    // Takes chunks until the listing is done and nothing is left.
    let work = || {
        let mut state = state();
        loop {
            let (start, chunk) = {
                let mut queue = lock(&queue);
                loop {
                    let left = queue.pids.len() - queue.taken;
                    if left >= CHUNK || (queue.listed && left > 0) {
                        break;
                    }
                    if queue.listed {
                        return;
                    }
                    queue = more.wait(queue).unwrap_or_else(PoisonError::into_inner);
                }
                let start = queue.taken;
                let end = (start + CHUNK).min(queue.pids.len());
                queue.taken = end;
                (start, queue.pids[start..end].to_vec())
            };
            let part = chunk.iter().map(|&pid| each(&mut state, pid)).collect();
            lock(&results).push((start, part));
        }
    };

    let listing = std::thread::scope(|scope| {
        let mut started = false;
        let mut batch = Vec::with_capacity(CHUNK);
        let mut flush = |batch: &mut Vec<i32>| {
            let left = {
                let mut queue = lock(&queue);
                queue.pids.append(batch);
                queue.pids.len() - queue.taken
            };
            more.notify_all();
            if !started && threads > 1 && left >= PARALLEL_FROM {
                started = true;
                for _ in 1..threads {
                    // A thread that cannot start leaves its share to the
                    // others.
                    let _ = std::thread::Builder::new()
                        .stack_size(256 * 1024)
                        .spawn_scoped(scope, work);
                }
            }
        };
        let listing = list(&mut |pid| {
            batch.push(pid);
            if batch.len() == CHUNK {
                flush(&mut batch);
            }
        });
        flush(&mut batch);
        {
            let mut queue = lock(&queue);
            if listing.is_err() {
                // Nothing more to read: the caller gets the error.
                queue.taken = queue.pids.len();
            }
            queue.listed = true;
        }
        more.notify_all();
        work();
        listing
    });
    listing?;
    let mut parts = results.into_inner().unwrap_or_else(PoisonError::into_inner);
    parts.sort_unstable_by_key(|&(start, _)| start);
    Ok(parts.into_iter().flat_map(|(_, part)| part).collect())
}

/// `each` of every PID of a list, in order, on a few threads when there
/// are many.
pub fn map<T: Send>(pids: &[i32], each: impl Fn(i32) -> T + Sync) -> Vec<T> {
    let listed = map_listed(
        |push| {
            pids.iter().for_each(|&pid| push(pid));
            Ok(())
        },
        || (),
        |(), pid| each(pid),
    );
    listed.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_listed_order() {
        for count in [0, 1, 3, 255, 256, 1000, 5000] {
            let pids: Vec<i32> = (0..count).collect();
            let doubled = map(&pids, |pid| pid * 2);
            assert_eq!(doubled, (0..count).map(|p| p * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_thread_state_sees_only_lower_pids() {
        // Each result is the largest PID the state had seen before: always
        // below the PID itself, and never from a PID not yet listed.
        let results = map_listed(
            |push| {
                (1..=3000).for_each(push);
                Ok(())
            },
            || 0,
            |seen: &mut i32, pid| {
                let before = *seen;
                *seen = pid;
                (pid, before)
            },
        )
        .unwrap();
        assert_eq!(results.len(), 3000);
        for (index, &(pid, before)) in results.iter().enumerate() {
            assert_eq!(pid, index as i32 + 1);
            assert!(before < pid);
        }
    }

    #[test]
    fn a_listing_error_is_returned_after_the_threads_end() {
        let result = map_listed(
            |push| {
                (0..1000).for_each(push);
                Err(io::Error::from_raw_os_error(libc::EIO))
            },
            || (),
            |(), pid| pid,
        );
        assert_eq!(result.unwrap_err().raw_os_error(), Some(libc::EIO));
    }
}
