"""The package holds the product: nothing in ``iou_aware`` imports the lab (``benchmarks``) or
the command-line scripts (``tools``), reaches for files outside itself, or imports in a loop."""
import ast
import os
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PACKAGE = osp.join(ROOT, 'iou_aware')


def package_modules():
    """{dotted module name: source path} of every module in iou_aware/."""
    out = {}
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if not d.startswith(('.', '__'))]
        for name in files:
            if name.endswith('.py'):
                rel = osp.relpath(osp.join(folder, name), ROOT)[:-3].replace(os.sep, '.')
                out[rel[:-len('.__init__')] if rel.endswith('.__init__') else rel] = \
                    osp.join(folder, name)
    return out


def imports_of(path, module, is_package):
    """Every module name ``path`` imports, at any depth (function-level imports included),
    relative imports resolved."""
    tree = ast.parse(open(path).read(), path)
    base = module.split('.') if is_package else module.split('.')[:-1]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            parent = '.'.join(base[:len(base) - node.level + 1]) if node.level else ''
            source = '.'.join(p for p in (parent, node.module or '') if p)
            names.append(source)
            names += [f'{source}.{a.name}' for a in node.names]
    return names


def import_graph():
    modules = package_modules()
    raw = {m: imports_of(p, m, p.endswith('__init__.py')) for m, p in modules.items()}
    # an ancestor package is always initialised before its modules: not an edge
    graph = {m: {n for n in found if n in modules and n != m and not m.startswith(n + '.')}
             for m, found in raw.items()}
    return graph, raw


def test_the_package_imports_neither_the_lab_nor_the_tools():
    _, raw = import_graph()
    bad = {m: sorted(n for n in names if n.split('.')[0] in ('benchmarks', 'tools'))
           for m, names in raw.items()}
    assert not {m: n for m, n in bad.items() if n}


def test_no_module_reaches_outside_the_package_for_code():
    """A wheel install has no checkout around the package: no source names tools/ or the lab
    as a place to load code from (importlib on a path, sys.path edits)."""
    offenders = []
    for module, path in package_modules().items():
        text = open(path).read()
        if 'spec_from_file_location' in text or 'sys.path.insert' in text or \
                'sys.path.append' in text:
            offenders.append(module)
    assert not offenders


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_loops_between_modules():
    """A package's ``__init__`` importing its own modules is how registration works; a loop
    that leaves the package (e.g. analysis.report -> evaluation -> evaluation.calibration_metric
    -> analysis.report, as before) is not: each side can only be imported in one order."""
    graph, _ = import_graph()
    assert not _cycles(graph)


def test_the_cycle_finder_finds_a_loop():
    """The check above can fail: a two-module loop across subpackages is reported."""
    graph = {'iou_aware.a.x': {'iou_aware.b.y'}, 'iou_aware.b.y': {'iou_aware.a.x'},
             'iou_aware.c': set()}
    assert _cycles(graph) == [['iou_aware.a.x', 'iou_aware.b.y']]
