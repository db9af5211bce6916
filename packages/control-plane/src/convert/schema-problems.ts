import { appendField, resolvePointer } from './field-path.js';
import { showValue } from './problems.js';

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

interface SchemaError {
  readonly instancePath: string;
  readonly keyword: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly message: string | undefined;
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asSchemaError(value: unknown): SchemaError | undefined {
  if (!isRecord(value) || typeof value.instancePath !== 'string' || typeof value.keyword !== 'string')
    return undefined;
  return {
    instancePath: value.instancePath,
    keyword: value.keyword,
    params: isRecord(value.params) ? value.params : {},
    message: typeof value.message === 'string' ? value.message : undefined,
  };
}

/** The AJV errors a model's validate() threw, or undefined when it threw something else. */
export function schemaErrorsOf(thrown: unknown): SchemaError[] | undefined {
  if (!(thrown instanceof Error) || !('errors' in thrown) || !Array.isArray(thrown.errors)) return undefined;
  const errors: SchemaError[] = [];
  for (const item of thrown.errors as unknown[]) {
    const error = asSchemaError(item);
    if (error) errors.push(error);
  }
  return errors;
}

// Keywords that only say "one of the alternatives failed"; the alternatives' own errors say why.
const SUMMARY_KEYWORDS = new Set(['anyOf', 'oneOf', 'if']);

/**
 * AJV errors as one problem per field, named like the YAML (`spec.ports[0].name`) and worded for the
 * operator: an int-or-string field that is neither yields one "expected integer or string".
 */
export function describeSchemaErrors(errors: readonly SchemaError[], data: unknown): FieldProblem[] {
  const expectedTypes = new Map<string, { types: Set<string>; value: unknown }>();
  const messages = new Map<string, string[]>();
  const add = (fieldName: string, message: string): void => {
    const list = messages.get(fieldName) ?? [];
    if (!list.includes(message)) list.push(message);
    messages.set(fieldName, list);
  };
  const fieldsWithDetail = new Set<string>();
  const summaries: { field: string; message: string }[] = [];

  for (const error of errors) {
    const target = resolvePointer(data, error.instancePath);
    const { params } = error;
    switch (error.keyword) {
      case 'required':
        add(appendField(target.field, String(params.missingProperty)), 'required');
        fieldsWithDetail.add(target.field);
        break;
      case 'additionalProperties':
        add(appendField(target.field, String(params.additionalProperty)), 'unknown field');
        fieldsWithDetail.add(target.field);
        break;
      case 'type': {
        const entry = expectedTypes.get(target.field) ?? { types: new Set<string>(), value: target.value };
        for (const type of String(params.type).split(',')) entry.types.add(type);
        expectedTypes.set(target.field, entry);
        fieldsWithDetail.add(target.field);
        break;
      }
      case 'enum': {
        const allowed = Array.isArray(params.allowedValues) ? params.allowedValues.map(String) : [];
        add(target.field, `${showValue(target.value)} is not one of ${allowed.join(', ')}`);
        fieldsWithDetail.add(target.field);
        break;
      }
      default:
        if (SUMMARY_KEYWORDS.has(error.keyword)) {
          summaries.push({ field: target.field, message: error.message ?? `fails ${error.keyword}` });
        } else {
          add(target.field, `${showValue(target.value)}: ${error.message ?? `fails ${error.keyword}`}`);
          fieldsWithDetail.add(target.field);
        }
    }
  }
  for (const [fieldName, { types, value }] of expectedTypes) {
    add(fieldName, `expected ${[...types].join(' or ')}, got ${showValue(value)}`);
  }
  for (const summary of summaries) {
    if (!fieldsWithDetail.has(summary.field)) add(summary.field, summary.message);
  }
  const problems: FieldProblem[] = [];
  for (const [fieldName, list] of messages) {
    for (const message of list) problems.push({ field: fieldName, message });
  }
  return problems;
}
