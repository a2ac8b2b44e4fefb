import Foundation
import PackagePlugin

/// Embeds the checkout's git commit in the target it is applied to, as `let gitCommit: String`.
///
/// The commit is read when the binary is built, so a running `faceexport` needs neither git nor
/// network to say which source it came from. A build outside a checkout (a source archive, a
/// container build without `.git`) takes `FACEEXPORT_COMMIT` from the environment, or embeds "".
/// The file is rewritten only when its text changes, so an unchanged commit rebuilds nothing.
@main
struct GitCommitPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "generated")
        let script = """
            set -u
            package="$1"; output="$2"; commit="${FACEEXPORT_COMMIT:-}"
            if [ -z "$commit" ] && command -v git >/dev/null 2>&1; then
                commit=$(git -C "$package" rev-parse --short=12 HEAD 2>/dev/null || true)
                if [ -n "$commit" ] && [ -n "$(git -C "$package" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
                    commit="$commit-dirty"
                fi
            fi
            commit=$(printf '%s' "$commit" | tr -cd 'A-Za-z0-9._-')
            mkdir -p "$output"
            printf '/// The git commit this binary was built from ("" when unknown), written by GitCommitPlugin.\\nlet gitCommit = "%s"\\n' "$commit" > "$output/GitCommit.swift.next"
            if cmp -s "$output/GitCommit.swift.next" "$output/GitCommit.swift"; then
                rm -f "$output/GitCommit.swift.next"
            else
                mv "$output/GitCommit.swift.next" "$output/GitCommit.swift"
            fi
            """
        var environment: [String: String] = [:]
        if let commit = ProcessInfo.processInfo.environment["FACEEXPORT_COMMIT"] {
            environment["FACEEXPORT_COMMIT"] = commit
        }
        return [
            .prebuildCommand(
                displayName: "Embedding the git commit in \(target.name)",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", script, "sh", context.package.directoryURL.path, output.path],
                environment: environment,
                outputFilesDirectory: output
            )
        ]
    }
}
