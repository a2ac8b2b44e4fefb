import ExportSinks
public import FaceSearch

/// How an export run walks and hands work between its stages: the settings, the same for every
/// run of a pipeline (what is particular to one run is in its ``RunContext``).
public struct ExportConfiguration: Sendable {
    /// The pipeline's name, for the manifest and the SQLite `runs` table. Default `faceexport`.
    public var pipeline = "faceexport"
    /// Where the run's `manifest.json` goes once the outputs are committed (a `_SUCCESS` marker goes
    /// beside it and beside every file when the run is complete); nil for none. Default nil.
    public var manifestPath: String?
    /// Libraries walked at the same time (width of the page-walker stage), 1 to
    /// ``maximumConcurrency``. Default 4.
    public var concurrency: Int = 4
    /// The most libraries a run walks at once.
    ///
    /// Every walker blocks a thread of libdispatch's pool for the whole run, and that pool holds at
    /// most 255 threads: at 252 walkers and more, the transformer and the sink got none, the walkers
    /// waited on them for ever and the run hung, deaf even to SIGTERM (whose handler needs a thread
    /// too). Half the pool leaves room for the other stages and for the pages fetched ahead.
    public static let maximumConcurrency = 128
    /// Faces asked for per `list` call (`limit`), 1 to 1000. Default 1000.
    public var pageSize: Int = 1000
    /// Pages of large libraries (more than two pages) fetched ahead in parallel, across the run;
    /// 0 walks every library one page at a time. Default nil: ``concurrency``.
    public var prefetchWidth: Int?
    /// Pages held between two stages before the earlier one waits. Default 8.
    public var queueCapacity: Int = 8
    /// What a library edited during its walk means for the run. Default ``ChangedLibraryPolicy/accept``.
    public var onChanged = ChangedLibraryPolicy.accept
    /// Whether a library walked to its end without `get_size` (``GroupStatus/unverified``) counts as
    /// exported for the run's outcome. Default true.
    public var acceptsUnverified = true
    /// Retries of failed calls. Default ``RetryPolicy/init()``.
    public var retry = RetryPolicy()
    /// Seconds after the start when no further call begins and the run fails; nil for none. Default nil.
    public var deadline: Double?
    /// Seconds from the start to the first store point, and between two, at least: where every file
    /// vouches for its rows, uploads storing their tails (up to a part each, for all but the upload
    /// that just sent one). Default 30: a killed run fetches again about that long's pages, and
    /// tails cost a small share of what is uploaded.
    public var storePointInterval: Double = 30
    /// Seconds an account's API may stay unreachable (every call failing at the connection level, or
    /// throttled) before the run gives up and fails, keeping its journal for `--resume`. Default 600.
    public var outageTolerance: Double = 600
    /// Export only the libraries of this shard; nil for all. Default nil.
    public var shard: Shard?
    /// What the transformer stage makes of every face; the sinks must be built for its schema.
    /// Default ``RecordTransform/standard``.
    public var transform = RecordTransform.standard

    /// Creates a configuration with the defaults.
    public init() {}
}

/// One API account and the libraries to export from it.
public struct AccountJob: Sendable {
    /// Which libraries of the account to export.
    public enum Groups: Sendable, Hashable {
        /// Every library `group_list` reports.
        case all
        /// These libraries, in this order.
        case list([String])
    }

    /// A short name for reports and logs; never a credential.
    public var name: String
    /// The signed client of this account.
    public var client: FaceSearchClient
    /// The libraries to export.
    public var groups: Groups
    /// The pacing every worker of this account shares. Default adaptive from 5 requests/s.
    public var rateLimit: RateLimitConfiguration
    /// The account's retry allowance. Default 500 tokens, 5 per retry.
    public var retryBudget: RetryBudget.Configuration

    /// Creates a job.
    public init(
        name: String,
        client: FaceSearchClient,
        groups: Groups,
        rateLimit: RateLimitConfiguration = .init(),
        retryBudget: RetryBudget.Configuration = .init()
    ) {
        self.name = name
        self.client = client
        self.groups = groups
        self.rateLimit = rateLimit
        self.retryBudget = retryBudget
    }
}
