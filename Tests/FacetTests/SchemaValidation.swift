import Foundation
import XCTest

extension XCTestCase {
    /// Validates the JSON document at `url` against `Manifests/<schema>` with python3's jsonschema (skips
    /// when it is not installed). Every schema in Manifests/ is registered under its $id (and file name), so
    /// relative $refs such as "common.schema.json#/$defs/..." resolve without the network.
    func validate(_ url: URL, schema name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let schemaFolder = TestPaths.repo.appendingPathComponent("Manifests")
        let schema = schemaFolder.appendingPathComponent(name)
        XCTAssertTrue(FileManager.default.fileExists(atPath: schema.path), "Manifests/\(name) is missing", file: file, line: line)
        let python = URL(fileURLWithPath: "/usr/bin/env")
        guard (try? runProcess(python, ["python3", "-c", "import jsonschema"]))?.status == 0 else {
            throw missingPrerequisite("python3 with jsonschema is not available")
        }
        let script = """
            import json, sys, pathlib
            import jsonschema
            folder, schema_path, doc_path = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
            schema = json.load(open(schema_path, encoding="utf-8"))
            doc = json.load(open(doc_path, encoding="utf-8"))
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            try:
                from referencing import Registry, Resource
                from referencing.jsonschema import DRAFT202012
                resources = []
                for p in folder.glob("*.json"):
                    contents = json.load(open(p, encoding="utf-8"))
                    resource = Resource.from_contents(contents, default_specification=DRAFT202012)
                    if "$id" in contents:
                        resources.append((contents["$id"], resource))
                    resources.append((p.resolve().as_uri(), resource))
                validator = cls(schema, registry=Registry().with_resources(resources), format_checker=cls.FORMAT_CHECKER)
            except ImportError:
                store = {}
                for p in folder.glob("*.json"):
                    contents = json.load(open(p, encoding="utf-8"))
                    if "$id" in contents: store[contents["$id"]] = contents
                resolver = jsonschema.RefResolver.from_schema(schema, store=store)
                validator = cls(schema, resolver=resolver)
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
            for e in errors:
                print("/".join(map(str, e.path)) + ": " + e.message)
            sys.exit(1 if errors else 0)
            """
        let result = try runProcess(python, ["python3", "-c", script, schemaFolder.path, schema.path, url.path])
        XCTAssertEqual(result.status, 0, "\(url.lastPathComponent) against \(name):\n\(result.stdout)\(result.stderr)", file: file, line: line)
    }
}
