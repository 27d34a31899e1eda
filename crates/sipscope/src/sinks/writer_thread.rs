//! The [`EventStore`](super::EventStore) side of a store that runs on a writer thread of its
//! own. SQLite's `BackgroundStore` and PostgreSQL's `PgBackground` answer the pipeline the
//! same way: a store operation waits for the writer to finish what was batched before it and
//! then runs there (`call`), an alert joins the batch, and a commit of the collector's
//! positions is requested with the batch sent first. One text for both, so the two backends
//! cannot drift apart.

/// `impl EventStore for $writer`, each method forwarded to the writer thread. At the place of
/// use, `$writer` must have `call` (run a closure on its store, after the batch, and return
/// what it returned), `push`, `send_batch`, `send` and `take_failure`, and the backend's own
/// `Item` (with `Item::Alert`) and `Command` (with `Command::Commit`) must be in scope; its
/// store has inherent methods of the trait's names taking references where the trait takes
/// values.
macro_rules! event_store_on_writer_thread {
    ($writer:ty) => {
        impl $crate::sinks::EventStore for $writer {
            fn begin_analysis_run(
                &mut self,
                scope: $crate::sinks::RunScope,
                started_ns: i64,
            ) -> Result<i64, $crate::sinks::SinkError> {
                self.call(move |s| s.begin_analysis_run(&scope, started_ns))
            }

            fn finish_analysis_run(
                &mut self,
                run: i64,
                finished_ns: i64,
                result: $crate::analysis::result::AnalysisResult,
                covered: u64,
            ) -> Result<(), $crate::sinks::SinkError> {
                self.call(move |s| s.finish_analysis_run(run, finished_ns, &result, covered))
            }

            fn interrupted_runs(&mut self) -> Result<Vec<$crate::sinks::InterruptedRun>, $crate::sinks::SinkError> {
                self.call(|s| s.interrupted_runs())
            }

            fn discard_run(&mut self, run: i64) -> Result<(), $crate::sinks::SinkError> {
                self.call(move |s| s.discard_run(run))
            }

            fn continue_run(&mut self, run: &$crate::sinks::InterruptedRun) -> Result<bool, $crate::sinks::SinkError> {
                let run = run.clone();
                self.call(move |s| s.continue_run(&run))
            }

            fn stopped_run(
                &mut self,
                kind: $crate::sinks::RunKind,
                sensor: &str,
            ) -> Result<Option<$crate::sinks::InterruptedRun>, $crate::sinks::SinkError> {
                let sensor = sensor.to_owned();
                self.call(move |s| s.stopped_run(kind, &sensor))
            }

            fn last_event_id(&mut self) -> Result<i64, $crate::sinks::SinkError> {
                self.call(|s| s.last_event_id())
            }

            fn begin_file(
                &mut self,
                file: $crate::sinks::CaptureFile,
                now_ns: i64,
                force: bool,
            ) -> Result<$crate::sinks::FileStart, $crate::sinks::SinkError> {
                self.call(move |s| s.begin_file(&file, now_ns, force))
            }

            fn finish_file(
                &mut self,
                id: i64,
                counts: $crate::sinks::FileCounts,
                now_ns: i64,
            ) -> Result<(), $crate::sinks::SinkError> {
                self.call(move |s| s.finish_file(id, counts, now_ns))
            }

            fn known_contents(&mut self) -> Result<Vec<(i64, $crate::sinks::ContentDigest)>, $crate::sinks::SinkError> {
                self.call(|s| s.known_contents())
            }

            fn supersede_file(&mut self, old: i64, by: i64) -> Result<u64, $crate::sinks::SinkError> {
                self.call(move |s| s.supersede_file(old, by))
            }

            fn next_auth_attempt_id(&mut self) -> Result<i64, $crate::sinks::SinkError> {
                self.call(|s| s.next_auth_attempt_id())
            }

            fn alert(&mut self, alert: &$crate::act::Alert) -> Result<(), $crate::sinks::SinkError> {
                self.push(Item::Alert(Box::new(alert.clone())))
            }

            fn set_collected(
                &mut self,
                positions: Vec<(String, String, i64)>,
                now_ns: i64,
            ) -> Result<(), $crate::sinks::SinkError> {
                self.call(move |s| s.set_collected(&positions, now_ns))
            }

            fn commit_collected(
                &mut self,
                positions: Vec<(String, String, i64)>,
                now_ns: i64,
            ) -> Result<$crate::sinks::Committing, $crate::sinks::SinkError> {
                self.send_batch()?;
                self.take_failure()?;
                $crate::sinks::Committing::request(positions, now_ns, |request| self.send(Command::Commit(request)))
            }

            fn collected_positions(&mut self) -> Result<Vec<(String, String, i64)>, $crate::sinks::SinkError> {
                self.call(|s| s.collected_positions())
            }
        }
    };
}

pub(crate) use event_store_on_writer_thread;
