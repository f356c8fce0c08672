import { describe, expect, it } from "vitest";
import { ApiError, fieldErrors, fieldName, parseProblem } from "../src/api/problem";

const PROBLEM = "application/problem+json";

describe("problem+json → field errors", () => {
  it("puts each validation error beside its field, in plain words", () => {
    const body = JSON.stringify({
      type: "urn:openbms:problem:validation-error",
      title: "Unprocessable Content",
      status: 422,
      detail: "2 invalid field(s)",
      errors: [
        { loc: ["body", "password"], msg: "Field required", type: "missing" },
        { loc: ["body", "email"], msg: "String should have at least 1 character", type: "string_too_short" },
      ],
    });
    const err = new ApiError(parseProblem(422, "Unprocessable Content", PROBLEM, body));
    expect(err.status).toBe(422);
    expect(err.fields).toEqual({ password: "This field is required.", email: "This field is required." });
    expect(err.general).toEqual([]);
  });

  it("names nested fields with dots and query parameters by name", () => {
    expect(fieldName(["body", "limits", "min"])).toBe("limits.min");
    expect(fieldName(["query", "since"])).toBe("since");
    expect(fieldName(["body"])).toBe("");
  });

  it("keeps errors about the whole request as general messages", () => {
    const { fields, general } = fieldErrors({
      type: "x",
      title: "Unprocessable Content",
      status: 422,
      errors: [{ loc: ["body"], msg: "the change makes the site configuration invalid", type: "config_error" }],
    });
    expect(fields).toEqual({});
    expect(general).toEqual(["The change makes the site configuration invalid."]);
  });

  it("joins two messages for one field", () => {
    const { fields } = fieldErrors({
      type: "x",
      title: "t",
      status: 422,
      errors: [
        { loc: ["body", "value"], msg: "Input should be a valid number", type: "float_parsing" },
        { loc: ["body", "value"], msg: "Value error, above the maximum 30", type: "value_error" },
      ],
    });
    expect(fields.value).toBe("Enter a number. Above the maximum 30.");
  });

  it("uses the detail of a problem without a field list", () => {
    const body = JSON.stringify({ type: "about:blank", title: "Unauthorized", status: 401, detail: "wrong e-mail or password" });
    const err = new ApiError(parseProblem(401, "Unauthorized", PROBLEM, body));
    expect(err.message).toBe("Wrong e-mail or password.");
    expect(err.fields).toEqual({});
  });

  it("reads FastAPI's default 422 shape too", () => {
    const body = JSON.stringify({ detail: [{ loc: ["query", "limit"], msg: "Input should be a valid integer", type: "int_parsing" }] });
    const err = new ApiError(parseProblem(422, "", "application/json", body));
    expect(err.fields).toEqual({ limit: "Enter a whole number." });
  });

  it("turns a non-JSON answer (a proxy's HTML page) into words", () => {
    const err = new ApiError(parseProblem(502, "Bad Gateway", "text/html", "<html>…</html>"));
    expect(err.status).toBe(502);
    expect(err.message).toMatch(/server had a problem/);
    expect(new ApiError(parseProblem(0, "", null, "")).message).toMatch(/could not be reached/);
    expect(new ApiError(parseProblem(429, "", null, "")).message).toMatch(/Too many requests/);
  });
});
