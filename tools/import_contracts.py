"""An import-linter contract: no cycle among the modules of the project's packages.

grimp records every import, those inside functions and under TYPE_CHECKING included, so a cycle
cannot hide behind a late import. Tests and migrations are left out (they sit on top of
everything and nothing imports them).
"""

from importlinter import Contract, ContractCheck, fields, output


def _cycles(graph, modules):
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i in modules) for m in modules}
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], 0
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            for i in range(position, len(edges[node])):
                target = edges[node][i]
                if target not in index:
                    work.append((node, i + 1))
                    work.append((target, 0))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return found


class AcyclicModulesContract(Contract):
    type_name = "acyclic_modules"

    containers = fields.ListField(subfield=fields.StringField())
    exclude = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph, verbose):
        excluded = tuple(self.exclude or ())
        modules = {
            m for container in self.containers for m in graph.find_descendants(container) | {container}
            if not any(part in excluded for part in m.split("."))
        }
        cycles = _cycles(graph, modules)
        details = []
        for cycle in cycles:
            members = set(cycle)
            lines = []
            for importer in cycle:
                for imported in sorted(graph.find_modules_directly_imported_by(importer) & members):
                    for detail in graph.get_import_details(importer=importer, imported=imported):
                        lines.append(f"{importer} -> {imported} (l. {detail['line_number']}: {detail['line_contents']})")
            details.append(lines)
        return ContractCheck(kept=not cycles, metadata={"cycles": details})

    def render_broken_contract(self, check):
        for number, lines in enumerate(check.metadata["cycles"], 1):
            output.print_error(f"Cycle {number}:", bold=True)
            for line in lines:
                output.indent_cursor()
                output.print_error(line)
            output.new_line()
