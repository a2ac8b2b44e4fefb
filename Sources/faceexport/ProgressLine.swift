import Dispatch
import ExportPipeline
import Foundation

/// A live progress line on a terminal: libraries done, faces, pages/s, retries and an estimate of
/// the time left. Off a terminal it prints nothing (logs and the summary say what happened).
// The timer is created once and only cancelled after; Dispatch sources are thread-safe.
final class ProgressLine: @unchecked Sendable {
    private let timer: (any DispatchSourceTimer)?

    init(run: ExportRun, enabled: Bool) {
        guard enabled else {
            self.timer = nil
            return
        }
        let started = Date()
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "faceexport.progress"))
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler {
            let progress = run.progress
            let elapsed = Date().timeIntervalSince(started)
            var line = "groups \(progress.groupsWalked)/\(progress.groupsScheduled) · faces \(progress.faces)"
            line += " · \(Int(Double(progress.pages) / max(elapsed, 0.001))) pages/s · retries \(progress.retries)"
            if progress.groupsWalked > 0 && progress.groupsScheduled > progress.groupsWalked {
                let left =
                    elapsed / Double(progress.groupsWalked) * Double(progress.groupsScheduled - progress.groupsWalked)
                line += String(format: " · ETA %d:%02d", Int(left) / 60, Int(left) % 60)
            }
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line).utf8))
        }
        timer.resume()
        self.timer = timer
    }

    /// Stops the line and clears it.
    func finish() {
        guard let timer = self.timer else { return }
        timer.cancel()
        FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8))
    }
}
