import FaceSearch
import Logging

/// The first stage: turns the accounts' group selections into libraries to walk, discovering them
/// through `group_list` where the pipeline asks for all.
struct GroupSource: Sendable {
    let accounts: [AccountContext]
    let shard: Shard?
    /// An interrupted run's progress: finished libraries are not walked again.
    let resume: ResumeState?
    let selections: [AccountJob.Groups]
    let ledger: RunLedger
    let retrier: CallRetrier
    let logger: Logger

    /// Pushes every library into `output`, then closes it.
    @available(*, noasync)
    func run(into output: BoundedQueue<GroupTask>) {
        defer { output.close() }
        for (account, selection) in zip(self.accounts, self.selections) {
            let groupIDs: [String]
            var discovered: [String: GroupInfo] = [:]
            switch selection {
            case .list(let ids):
                groupIDs = ids
            case .all:
                switch self.retrier.perform(
                    { () throws(FaceSearchError) in try account.client.listGroups() },
                    account: account,
                    counted: { self.ledger.discoveryRequestMade(retry: $0) }
                ) {
                case .success(let infos):
                    groupIDs = infos.map(\.groupID)
                    for info in infos { discovered[info.groupID] = info }
                    self.logger.debug(
                        "discovered libraries",
                        metadata: ["account": "\(account.name)", "count": "\(infos.count)"]
                    )
                case .failure(let error) where error.disposition == .fatalForRun:
                    return  // The run stops, and its reason says why.
                case .failure(let error):
                    self.ledger.accountFailed(account.name, reason: "group_list failed: \(error)")
                    continue
                case .stopped:
                    return
                }
            }
            for groupID in groupIDs where self.shard?.contains(account: account.name, groupID: groupID) ?? true {
                let key = self.ledger.schedule(account: account.name, groupID: groupID, info: discovered[groupID])
                let previous = self.resume?.groups[account.name]?[groupID]
                if let previous {
                    self.ledger.restore(
                        key,
                        written: previous.written,
                        filtered: previous.filtered,
                        requests: previous.requests,
                        retries: previous.retries,
                        repaired: previous.repaired
                    )
                }
                if let result = previous?.result {
                    self.ledger.walkFinished(key, result)
                    continue
                }
                let task = GroupTask(key: key, account: account, groupID: groupID, resumeFrom: previous?.position)
                guard output.push(task) else { return }
            }
        }
    }
}
