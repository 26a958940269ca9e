import ArgumentParser
import FacetCore
import Foundation

/// Options every Facet tool takes.
public struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Workspace folder holding Datasets/, Manifests/ and the catalog (default: $FACET_WORKSPACE, else the current folder).", valueName: "dir"))
    public var workspace: String?

    @Option(name: .long, help: ArgumentHelp("Catalog file (default: <workspace>/catalog.sqlite).", valueName: "file"))
    public var catalog: String?

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for another process holding the catalog's write lock.", valueName: "seconds"))
    public var busyTimeout: Double = 30

    @Flag(name: .long, help: "Print a machine-readable JSON summary on stdout.")
    public var json = false

    @Flag(name: [.short, .long], help: "No progress or log lines on stderr (errors still print).")
    public var quiet = false

    public init() {}

    /// The workspace folder, absolute.
    public var workspaceURL: URL {
        let path = workspace ?? ProcessInfo.processInfo.environment["FACET_WORKSPACE"] ?? "."
        return URL(fileURLWithPath: path).standardizedFileURL
    }

    /// The catalog file, absolute.
    public var catalogURL: URL {
        if let catalog { return URL(fileURLWithPath: catalog).standardizedFileURL }
        return workspaceURL.appendingPathComponent("catalog.sqlite")
    }

    public mutating func validate() throws {
        guard busyTimeout >= 0 else { throw ValidationError("--busy-timeout must be zero or more seconds") }
        TrustedFolders.add(workspaceURL)
    }
}

/// `--shard K/N`: this process does part K (1-based) of N.
public struct ShardSpec: ExpressibleByArgument, Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public init?(argument: String) {
        let parts = argument.split(separator: "/")
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, k >= 1, k <= n else { return nil }
        self.init(index: k, count: n)
    }

    public static let whole = ShardSpec(index: 1, count: 1)
    public var description: String { "\(index)/\(count)" }
    public static var defaultValueDescription: String { "1/1" }
}

/// A time on the command line: seconds (`12.5`), `MM:SS(.s)` or `HH:MM:SS(.s)`.
public struct TimeArgument: ExpressibleByArgument, Sendable, Equatable {
    public let seconds: Double

    public init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { return nil }
        var total = 0.0
        for (i, part) in parts.enumerated() {
            guard let value = Double(part), value >= 0, value.isFinite else { return nil }
            if i < parts.count - 1 && (value != value.rounded() || (i > 0 && value >= 60)) { return nil }
            if i == parts.count - 1 && parts.count > 1 && value >= 60 { return nil }
            total = total * 60 + value
        }
        seconds = total
    }
}
