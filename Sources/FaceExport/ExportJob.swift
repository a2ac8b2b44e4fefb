public import ExportPipeline
public import ExportSinks
public import FaceSearch
public import Logging
public import Transport

/// One export, assembled from its parts: the one way the command, the tests and the bench start a run.
public struct ExportJob: Sendable {
    /// The settings of the walk and the commit.
    public var configuration: ExportConfiguration
    /// The run's identity, journal and what it continues.
    public var context: RunContext
    /// The accounts to read, each with its client and pacing.
    public var accounts: [AccountJob]
    /// The outputs to write, built for the transform's schema when the run is made.
    public var outputs: [OutputSink.Configuration]
    /// The values of the outputs' path templates (`{date}`, `{run_id}`, `{pipeline}`, `{shard}`).
    public var pathValues: OutputPathTemplate.RunValues

    /// Creates a job; `pathValues` defaults to the context's run id and date, pipeline and shard.
    public init(
        configuration: ExportConfiguration,
        context: RunContext,
        accounts: [AccountJob],
        outputs: [OutputSink.Configuration],
        pathValues: OutputPathTemplate.RunValues? = nil
    ) {
        self.configuration = configuration
        self.context = context
        self.accounts = accounts
        self.outputs = outputs
        self.pathValues =
            pathValues
            ?? OutputPathTemplate.RunValues(
                date: context.date,
                runID: context.runID,
                pipeline: configuration.pipeline,
                shard: configuration.shard.map(\.description) ?? "all"
            )
    }

    /// The run, ready to start: nothing is called or written before `ExportRun.run()`.
    public func makeRun(
        stop: StopSignal = StopSignal(),
        clock: any PipelineClock = SystemClock(),
        logger: Logger = Logger(label: "faceexport.pipeline")
    ) -> ExportRun {
        let schema = self.configuration.transform.schema
        return ExportRun(
            configuration: self.configuration,
            context: self.context,
            accounts: self.accounts,
            sinks: self.outputs.map { OutputSink(configuration: $0, run: self.pathValues, schema: schema) },
            stop: stop,
            clock: clock,
            logger: logger
        )
    }

    /// Runs `run` to its end on a thread of its own (it blocks while it works) and returns its report.
    public static func run(_ run: ExportRun) async -> RunReport {
        await BlockingWork.run { run.run() }
    }
}

extension AccountJob {
    /// A job whose client calls `endpoint` over `transport`, signing with `credentials`.
    public init(
        name: String,
        endpoint: FaceSearchEndpoint,
        credentials: FaceSearchCredentials,
        transport: any HTTPTransport,
        groups: Groups,
        rateLimit: RateLimitConfiguration = .init(),
        retryBudget: RetryBudget.Configuration = .init(),
        repairsText: Bool = true,
        logger: Logger = Logger(label: "faceexport.client")
    ) {
        var logger = logger
        logger[metadataKey: "account"] = "\(name)"
        let client = FaceSearchClient(
            endpoint: endpoint,
            signer: RequestSigner(credentials: credentials),
            transport: transport,
            logger: logger,
            repairsText: repairsText
        )
        self.init(name: name, client: client, groups: groups, rateLimit: rateLimit, retryBudget: retryBudget)
    }
}
