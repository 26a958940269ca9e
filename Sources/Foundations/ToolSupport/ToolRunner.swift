import ArgumentParser
import FacetCore
import Foundation

/// Runs a tool's body and turns its errors into the documented exit codes with one clear line on stderr:
/// `TOOL: error: MESSAGE`. `FacetError`s carry their own code, a `ValidationError` exits 64, anything else
/// exits 1 (README "Exit codes" is the table).
public enum ToolRunner {
    public static func run(tool: String, _ body: () throws -> ExitStatus) throws {
        let status: ExitStatus
        do {
            status = try body()
        } catch let error as FacetError {
            printError(tool: tool, error.description)
            throw ExitCode(error.exitStatus.rawValue)
        } catch let error as ExitCode {
            throw error
        } catch let error as ValidationError {
            printError(tool: tool, error.message)
            throw ExitCode(ExitStatus.usage.rawValue)
        } catch {
            printError(tool: tool, "\(error)")
            throw ExitCode(ExitStatus.failure.rawValue)
        }
        if status != .ok { throw ExitCode(status.rawValue) }
    }

    public static func printError(tool: String, _ message: String) {
        FileHandle.standardError.write(Data("\(tool): error: \(message)\n".utf8))
    }

    /// Writes `value` as pretty JSON on stdout.
    public static func printJSON<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}
