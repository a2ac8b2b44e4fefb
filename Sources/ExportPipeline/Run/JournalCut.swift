import ExportSinks

/// Where an interrupted run can continue from: for each library, how many of its journal lines to
/// keep, and for each file, the line whose checkpoint it continues from, all consistent.
///
/// A text or SQLite file's checkpoint vouches for every row written so far, so every line is a
/// place to continue from. A Parquet file takes its rows a row group at a time: the lines between
/// two row groups carry a `pending` checkpoint, and only the line after a row group vouches for the
/// file. So the rows a file holds at its checkpoint line must be exactly the rows of the kept lines
/// that wrote to it: a library keeps no line that wrote to a file after that file's checkpoint, and
/// a file goes back to an earlier checkpoint when a library's line it vouches for is not kept
/// (because that library also wrote to a file that was further behind). Both only move back, so
/// repeating them settles. A file shared by every library (one NDJSON for the night) then holds the
/// libraries back to the last row group of any Parquet file still being filled; what is not kept is
/// fetched again.
struct JournalCut {
    /// One output's file of one partition.
    struct FileKey: Hashable {
        var output: Int
        var account: String?
        var group: String?

        /// The file of output `output` that `checkpoint` describes.
        init(output: Int, _ checkpoint: FileCheckpoint) {
            self.output = output
            self.account = checkpoint.account
            self.group = checkpoint.group
        }
    }

    /// A library: its account and id.
    struct LibraryKey: Hashable {
        var account: String
        var groupID: String
    }

    /// Per library, its lines (indices into the journal's lines) in order.
    private(set) var libraryLines: [LibraryKey: [Int]] = [:]
    /// Per library, how many of its lines are kept.
    private(set) var kept: [LibraryKey: Int] = [:]
    /// Per file, the line whose checkpoint it continues from; absent (or -1) to start it again.
    private(set) var continuesFrom: [FileKey: Int] = [:]

    /// Works out the cut for `lines`, a journal's trusted lines, of a pipeline with `outputs` outputs.
    init(_ lines: [JournalEntry], outputs: Int) {
        var touches: [[FileKey]] = Array(repeating: [], count: lines.count)
        var exactLines: [FileKey: [Int]] = [:]
        var writers: [FileKey: [(line: Int, library: LibraryKey, position: Int)]] = [:]
        for (index, line) in lines.enumerated() {
            guard let progress = line.progress else { continue }
            let library = LibraryKey(account: progress.account, groupID: progress.groupID)
            let position = self.libraryLines[library, default: []].count
            self.libraryLines[library, default: []].append(index)
            for (output, checkpoint) in (progress.files ?? []).enumerated() where output < outputs {
                guard let checkpoint else { continue }
                let file = FileKey(output: output, checkpoint)
                touches[index].append(file)
                writers[file, default: []].append((index, library, position))
                if checkpoint.isExact { exactLines[file, default: []].append(index) }
            }
        }
        for (file, indices) in exactLines { self.continuesFrom[file] = indices.last }

        var settled = false
        while !settled {
            settled = true
            // A library keeps its lines up to the first that wrote to a file past that file's checkpoint.
            for (library, indices) in self.libraryLines {
                var keep = indices.count
                for (position, index) in indices.enumerated()
                where touches[index].contains(where: { index > self.continuesFrom[$0] ?? -1 }) {
                    keep = position
                    break
                }
                self.kept[library] = keep
            }
            // A file goes back to a checkpoint before every line it vouches for that is not kept.
            for (file, lines) in writers {
                let checkpoint = self.continuesFrom[file] ?? -1
                guard
                    let dropped = lines.first(where: { $0.line <= checkpoint && $0.position >= self.kept[$0.library]! })
                else { continue }
                self.continuesFrom[file] = exactLines[file]?.last(where: { $0 < dropped.line }) ?? -1
                settled = false
            }
        }
    }

    /// The lines of `library` that are kept.
    func keptLines(of library: LibraryKey) -> ArraySlice<Int> {
        (self.libraryLines[library] ?? []).prefix(self.kept[library] ?? 0)
    }
}
