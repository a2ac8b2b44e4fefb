public import ExportSinks

/// What is particular to one run: its identity, its journal and the interrupted run it continues.
public struct RunContext: Sendable {
    /// The run's id, used in temporary file names, the journal, the manifest and reports.
    public var runID: String
    /// The run's `{date}`, recorded in the journal so a resumed run writes to the same places. Default empty.
    public var date = ""
    /// When the run started, Unix ms, recorded in the journal so a resumed run keeps it. Default 0.
    public var startedAt: Int64 = 0
    /// Where to journal progress page by page, so an interrupted run can be resumed; nil for no
    /// journal. Default nil.
    public var journalPath: String?
    /// A digest of the settings that shape the outputs, recorded in the journal: a run may be
    /// resumed only under the same. Default empty.
    public var fingerprint = ""
    /// The interrupted run to continue (its run id must be ``runID``). Default nil.
    public var resume: ResumeState?
    /// The journal's and the commit's file operations, as steps a crash test can stop at (the sinks
    /// carry their own, in their configuration). Default: carried out directly.
    public var fileSteps = FileSteps.direct
    /// Where the journal and the commit record are also kept, when the local folder does not
    /// outlive the run (a pod's): told after each page and at the commit. Default nil.
    public var stateMirror: (any RunStateMirror)?

    /// Creates a context for the run `runID`, unjournaled.
    public init(runID: String) {
        self.runID = runID
    }
}

/// A copy of the run's journal and commit record kept where a later run on another machine finds
/// them (object storage, for a run in a pod).
public protocol RunStateMirror: Sendable {
    /// The journal has grown: store it if it is worth it now; `force` at a store point, where every
    /// file vouches for its rows, and once the commit is recorded, before anything is put in place.
    func store(force: Bool) throws(SinkError)
}
