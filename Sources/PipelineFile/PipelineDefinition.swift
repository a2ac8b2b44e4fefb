public import ExportPipeline
public import ExportSinks
import FaceSearch
public import Transport

/// A pipeline file, checked and typed: everything a run needs except secrets' values.
public struct PipelineDefinition: Sendable {
    /// Where the API is.
    public enum Endpoint: Sendable, Hashable {
        /// A simulator started in-process on a free loopback port, with its own credentials.
        case embedded(EmbeddedSimulator)
        /// A real deployment's service root, e.g. `https://api-sgp.yljz.com`.
        case remote(String)
    }

    /// The dataset and quirks of an embedded simulator.
    public struct EmbeddedSimulator: Sendable, Hashable {
        /// Libraries. Default 24.
        public var groups = 24
        /// Largest library size (sizes vary; the first few are the edge sizes). Default 400.
        public var faces = 400
        /// Dataset seed. Default 1.
        public var seed: UInt64 = 1
        /// Whether `start` above 1000 is refused. Default false.
        public var strictStartCap = false
        /// `add_time` form. Default `number`.
        public var addTimeStyle = AddTimeStyle.number
        /// Whether `list` answers carry `next`. Default false.
        public var sendsNext = false
        /// Share of `list` calls before which the library changes. Default 0.
        public var mutationRate = 0.0
        /// Faults to inject. Default none.
        public var faults = Faults()
        /// Seconds the server's clock runs ahead. Default 0.
        public var clockOffset: Int64 = 0

        /// Creates the defaults.
        public init() {}

        /// How `list` answers write `add_time` (`simulator.add_time`).
        public enum AddTimeStyle: String, Sendable, Hashable, CaseIterable {
            /// Unix milliseconds as a JSON number, as the vendor's page shows.
            case number
            /// Unix milliseconds as a string.
            case string
            /// Numbers, strings and ISO-8601 times with an offset, in turn.
            case mixed
        }

        /// The faults of `simulator.faults`, as the pipeline file gives them; the application turns
        /// them into the simulator's own plan. Shares are per call (per face for damaged text).
        public struct Faults: Sendable, Hashable {
            /// Seconds added to every answer, ± ``latencyJitter``. Default 0.
            public var latency = 0.0
            public var latencyJitter = 0.0
            /// Share answered `500 INTERNAL_ERROR`. Default 0.
            public var errorRate = 0.0
            /// Share whose connection is reset. Default 0.
            public var resetRate = 0.0
            /// Share cut in half after a full `Content-Length`. Default 0.
            public var truncateRate = 0.0
            /// Share whose body never ends. Default 0.
            public var endlessRate = 0.0
            /// Share of faces whose `user_data` is sent not valid UTF-8. Default 0.
            public var damagedTextRate = 0.0
            /// Share answered late, by ``slowDelay`` seconds. Default 0, 5 s.
            public var slowRate = 0.0
            public var slowDelay = 5.0
            /// Share whose signature is taken as expired. Default 0.
            public var expiredSignatureRate = 0.0
            /// Calls per key admitted in any second, and in flight at once; more are throttled. Default none.
            public var requestsPerSecondLimit: Int?
            public var inFlightLimit: Int?
            /// The status of a throttled call: 429 (default) or 403.
            public var limitStatus = 429
            /// Seconds sent as `Retry-After` with a throttled call. Default none.
            public var retryAfter: Int?
            /// Seed of the fault draws. Default 1.
            public var seed: UInt64 = 1

            /// No faults.
            public init() {}
        }
    }

    /// Where the API key and secret come from; never the file itself.
    public struct Credentials: Sendable, Hashable {
        /// Environment variable holding the key. Default `FACESEARCH_API_KEY`.
        public var apiKeyEnvironment = "FACESEARCH_API_KEY"
        /// Environment variable holding the secret. Default `FACESEARCH_API_SECRET`.
        public var apiSecretEnvironment = "FACESEARCH_API_SECRET"
        /// A file holding the key (trailing newline ignored); wins over the environment.
        public var apiKeyFile: String?
        /// A file holding the secret (trailing newline ignored); wins over the environment.
        public var apiSecretFile: String?

        /// Creates the defaults.
        public init() {}
    }

    /// Which libraries to export.
    public enum Groups: Sendable, Hashable {
        /// Every library of the account, from `group_list`.
        case all
        /// These libraries.
        case list([String])
        /// The libraries listed in a file, one per line.
        case file(String)
    }

    /// One output: a format and a path template under ``PipelineDefinition/outputDirectory``.
    public typealias Output = OutputSink.Configuration

    /// The HTTP stacks a pipeline can call the API through: libcurl's C API and the system's OpenSSL
    /// (`CurlTransport`). AsyncHTTPClient and URLSession were measured against it and
    /// removed (see the Transport article of the FaceExport catalog).
    public enum HTTPClient: String, Sendable, CaseIterable {
        /// libcurl.
        case curl
    }

    /// One API account of a pipeline with several; what it leaves out comes from the top level.
    public struct Account: Sendable, Hashable {
        /// A short name for reports, logs, `{account}` and the SQLite `groups` table.
        public var name: String
        /// The account's service root, if not the pipeline's.
        public var endpoint: String?
        /// Where the account's key and secret come from, if not the pipeline's.
        public var credentials: Credentials?
        /// The account's libraries, if not the pipeline's.
        public var groups: Groups?
        /// The account's pacing, if not the pipeline's.
        public var rateLimit: RateLimitConfiguration?

        /// Creates an account that takes everything from the top level.
        public init(name: String) { self.name = name }
    }

    /// The pipeline's name, for reports.
    public var name: String
    /// The API.
    public var endpoint: Endpoint
    /// The credentials' sources (ignored by an embedded endpoint).
    public var credentials = Credentials()
    /// The libraries.
    public var groups: Groups = .all
    /// The accounts, for a pipeline with several (an account holds at most 10 libraries); empty for
    /// one account, named `default`, described by the top-level keys.
    public var accounts: [Account] = []
    /// Libraries walked at once. Default 4.
    public var concurrency = 4
    /// `limit` per `list` call, 1 to 1000. Default 1000.
    public var pageSize = 1000
    /// Seconds before a call times out. Default 15: the API answers in milliseconds, and with
    /// a stalled call costs no more than this.
    public var requestTimeout = 15.0
    /// The HTTP stack the calls go through. Default and only ``HTTPClient/curl``.
    public var httpClient = HTTPClient.curl
    /// The proxy the calls go through (`proxy:`). Default the standard variables.
    public var proxy = Proxy.environment
    /// A PEM bundle to trust besides the system's store (`tls.ca_file`), and whether instead of it (`tls.ca_only`).
    public var caFile: String?
    public var caOnly = false

    /// The `proxy:` key.
    public enum Proxy: Sendable, Hashable {
        /// Not given: `https_proxy`, `http_proxy`, `no_proxy` decide.
        case environment
        /// `proxy: none`: no proxy, whatever the environment says.
        case none
        /// `proxy: URL` or `{url, username_env|username_file, password_env|password_file}`.
        case server(url: String, username: SecretSource?, password: SecretSource?)
    }

    /// Where a secret comes from: never the pipeline file itself.
    public enum SecretSource: Sendable, Hashable {
        case environment(String)
        case file(String)
    }
    /// Retries of failed calls.
    public var retry = RetryPolicy()
    /// The account's retry allowance.
    public var retryBudget = RetryBudget.Configuration()
    /// The account's pacing. Default adaptive from 5 requests/s up to 100.
    public var rateLimit = RateLimitConfiguration()
    /// Seconds after which the run stops and fails; nil for none.
    public var deadline: Double?
    /// Seconds an account's API may stay unreachable or throttle every call before the run fails. Default 600.
    public var outageTolerance = 600.0
    /// The folder every output path is relative to, or `s3://BUCKET/PREFIX` for object storage.
    /// Default `out`.
    public var outputDirectory = "out"
    /// How object storage is reached when ``outputDirectory`` is `s3://…` (`storage:`).
    public var storage = Storage()
    /// Where the run's journal, lock and commit record go (`state:`): a local folder, or for outputs
    /// in object storage, `s3://BUCKET/PREFIX` in their bucket; nil for the output folder itself.
    /// Needed when the outputs go to object storage.
    public var stateDirectory: String?

    /// The `storage:` section: where the bucket is and how calls reach it. Credentials are never
    /// here: they come as the AWS tools find them.
    public struct Storage: Sendable, Hashable {
        /// The store's root (`https://minio.internal:9000`); nil for AWS's endpoint of the region.
        public var endpoint: String?
        /// The region calls are signed for; nil for `AWS_REGION`, then `AWS_DEFAULT_REGION`, then
        /// `us-east-1`.
        public var region: String?
        /// Whether the bucket goes in the path rather than the host name (MinIO, Ceph, local
        /// servers). Default false.
        public var pathStyle = false
        /// Bytes of each part of an upload, but the last. Default 16 MiB; 5 MiB at least.
        public var partSize = 16 << 20
        /// Parts of one upload sent at once, on threads of their own; each holds its bytes in
        /// memory until it has arrived. Default 2: the next part is sent while the writer fills
        /// the one after it.
        public var partsInFlight = 2
        /// Seconds between two moments, at most one each, when every upload stores its tail (the
        /// bytes waiting for their part, up to a part) so that a resumed run continues the uploads
        /// from there; a killed run fetches again about this long's pages. Default 30.
        public var checkpointInterval = 30.0
        /// The proxy calls go through. Default the standard variables.
        public var proxy = Proxy.environment
        /// A PEM bundle to trust besides the system's store, and whether instead of it.
        public var caFile: String?
        public var caOnly = false

        /// The defaults.
        public init() {}
    }
    /// The output files.
    public var outputs: [Output] = []
    /// Whether a partial run exits 0 (`on_incomplete: accept`) instead of 2 (`fail`, the default).
    public var acceptsIncomplete = false
    /// Whether a library walked without `get_size` (`unverified`) counts as exported (`on_unverified:
    /// accept`, the default) or makes the run partial (`fail`).
    public var acceptsUnverified = true
    /// What a library edited during its walk means: `accept` (default) keeps it complete, flagged, when
    /// the walk kept the export's guarantee; `fail` makes it `changed_during_export` and the run partial.
    public var onChanged = ChangedLibraryPolicy.accept
    /// What a face whose text is not valid UTF-8 (or holds a lone surrogate) means: `repair` (default)
    /// exports it with U+FFFD in place of each ill-formed sequence and counts it; `fail` makes its
    /// page unreadable, so its library fails.
    public var onInvalidText = InvalidTextPolicy.repair

    /// What a face with text that is not valid UTF-8 means (`on_invalid_text`).
    public enum InvalidTextPolicy: String, Sendable, Hashable, CaseIterable {
        /// Export it with U+FFFD in place of each ill-formed sequence, counted in the manifest.
        case repair
        /// Its page is unreadable: the library fails.
        case fail
    }
    /// Where to write Prometheus metrics at the end of a run (`metrics_file`, or `metrics.file`);
    /// nil for none.
    public var metricsFile: String?
    /// Where the run's metrics are pushed (`metrics.pushgateway`); nil for nowhere.
    public var metricsPush: MetricsPush?

    /// The Pushgateway a batch job pushes its metrics to, during the run and at its end.
    public struct MetricsPush: Sendable, Hashable {
        /// The Pushgateway's root, e.g. `https://pushgateway.monitoring:9091`.
        public var url: String
        /// The `job` label of the grouping key. Default `faceexport`.
        public var job = "faceexport"
        /// Seconds between two pushes while the run goes on. Default 30.
        public var interval = 30.0
        /// The proxy pushes go through. Default the standard variables.
        public var proxy = Proxy.environment
        /// A PEM bundle to trust besides the system's store, and whether instead of it.
        public var caFile: String?
        public var caOnly = false

        /// A push to `url` with the defaults.
        public init(url: String) { self.url = url }
    }
    /// Where the run's manifest goes, under ``outputDirectory``; may use `{date}`, `{run_id}`,
    /// `{pipeline}`. Default `manifest.json`.
    public var manifest = try! OutputPathTemplate("manifest.json")
    /// What the transformer stage makes of every face. Default: the standard columns.
    public var transform = TransformConfiguration()
    /// The line of `transform.hash_key`, for errors found when the key is read.
    public var hashKeyLine: Int?
}

extension PipelineDefinition.HTTPClient {
    /// A transport over this stack: `timeout` seconds per call, through `network`'s proxy and trust.
    /// It keeps a connection open per call in flight.
    public func transport(
        timeout: Double,
        network: NetworkOptions = NetworkOptions()
    ) throws(TransportSetUpError) -> any HTTPTransport {
        switch self {
        case .curl:
            var configuration = CurlTransport.Configuration()
            configuration.requestTimeout = timeout
            configuration.network = network
            return try CurlTransport(configuration: configuration)
        }
    }
}
