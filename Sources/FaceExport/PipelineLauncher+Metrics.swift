import ExportPipeline
import Foundation
import PipelineFile
import Transport

/// Metrics pushed to a Pushgateway (`metrics.pushgateway`).
extension PipelineLauncher {
    /// Seconds a push may take: a Pushgateway answers at once or is not there.
    static let pushTimeout = 10.0

    /// The pusher `metrics.pushgateway` asks for, nil when it asks for none.
    public func makeMetricsPusher() throws(LaunchError) -> MetricsPusher? {
        guard let push = self.definition.metricsPush else { return nil }
        guard let root = URL(string: push.url) else {
            throw LaunchError("metrics.pushgateway '\(push.url)' is not a URL")
        }
        let transport = try self.serviceTransport(
            proxy: push.proxy,
            caFile: push.caFile,
            caOnly: push.caOnly,
            timeout: Self.pushTimeout,
            section: "metrics"
        )
        return MetricsPusher(
            root: root,
            job: push.job,
            pipeline: self.definition.name,
            shard: self.overrides.shard,
            interval: push.interval,
            transport: transport,
            logger: self.logger
        )
    }
}
