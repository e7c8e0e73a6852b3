package eventrouter.rules;

import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelIssue;
import dev.cel.common.CelOptions;
import dev.cel.common.CelValidationException;
import dev.cel.common.CelValidationResult;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import java.util.Map;

/**
 * A compiled CEL expression over {@code event}, {@code session} and {@code traits}, each a map of JSON values.
 * Compiled once when rules load; evaluating it is pure and thread-safe.
 */
public final class Expression {
  /** Lets rules compare JSON numbers freely: {@code traits.ltv > 500} where ltv is a double. */
  private static final CelOptions OPTIONS = CelOptions.current().enableHeterogeneousNumericComparisons(true).build();
  private static final CelCompiler COMPILER = CelCompilerFactory.standardCelCompilerBuilder()
      .setOptions(OPTIONS)
      .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
      .addVar("event", MapType.create(SimpleType.STRING, SimpleType.DYN))
      .addVar("session", MapType.create(SimpleType.STRING, SimpleType.DYN))
      .addVar("traits", MapType.create(SimpleType.STRING, SimpleType.DYN))
      .build();
  private static final CelRuntime RUNTIME = CelRuntimeFactory.standardCelRuntimeBuilder().setOptions(OPTIONS).build();

  private final String source;
  private final CelRuntime.Program program;
  private final Guard guard;

  private Expression(String source, CelRuntime.Program program, Guard guard) {
    this.source = source;
    this.program = program;
    this.guard = guard;
  }

  /** @param where names the rule and field, for the error message */
  public static Expression compile(String source, String where) {
    CelValidationResult result = COMPILER.compile(source);
    try {
      CelAbstractSyntaxTree ast = result.getAst();
      return new Expression(source, RUNTIME.createProgram(ast), Guard.of(ast.getExpr()));
    } catch (CelValidationException e) {
      CelIssue first = e.getErrors().get(0);
      throw new RuleException(where + ": expression `" + source + "` has an error at line "
          + first.getSourceLocation().getLine() + ", column " + (first.getSourceLocation().getColumn() + 1) + ": "
          + first.getMessage());
    } catch (dev.cel.runtime.CelEvaluationException e) {
      throw new RuleException(where + ": expression `" + source + "` cannot be planned: " + e.getMessage());
    }
  }

  public String source() {
    return source;
  }

  /** @throws CelEvaluationException when the expression fails on these values, e.g. a missing key */
  public Object evaluate(Facts facts) throws CelEvaluationException {
    return program.eval(Map.of("event", facts.event(), "session", facts.session(), "traits", facts.traits()));
  }

  /**
   * True only when the expression yields true; an evaluation error (a missing field, say) counts as false. An event
   * that fails the expression's {@link Guard} is answered without evaluating it.
   */
  public boolean holds(Facts facts) {
    if (!guard.admits(facts.event())) {
      return false;
    }
    try {
      return Boolean.TRUE.equals(evaluate(facts));
    } catch (CelEvaluationException e) {
      return false;
    }
  }

  Guard guard() {
    return guard;
  }

  @Override
  public String toString() {
    return source;
  }
}
