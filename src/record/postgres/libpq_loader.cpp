// libpq, loaded when first used. Linking it outright maps libpq and what it links (Kerberos,
// LDAP, SASL, GnuTLS, p11-kit, nettle, GMP, ...) into every Bastion at start, ~3.5 MiB of
// resident code plus GnuTLS's start-up allocations, although only a PostgreSQL store needs it.
// These definitions stand in for the libpq functions the store calls (the same C symbols, with
// the signatures libpq-fe.h declares, so the compiler checks them) and forward to the library
// opened with dlopen on the first call. Without the library, the store fails to connect with
// the loader's message instead of Bastion failing to start.
#include "record/postgres/libpq_loader.hpp"

#include <dlfcn.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>

namespace bastion::record::pg {
namespace {

struct Library {
  void* handle = nullptr;
  std::string problem;
};

const Library& library() {
  static const Library lib = [] {
    Library l;
    // The SONAME, unchanged since PostgreSQL 8.
    l.handle = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (l.handle == nullptr) {
      const char* why = ::dlerror();
      l.problem = std::string("cannot load libpq (libpq.so.5; on Debian: apt-get install libpq5): ") +
                  (why ? why : "unknown error");
    }
    return l;
  }();
  return lib;
}

void* symbol(const char* name) {
  const auto& lib = library();
  return lib.handle ? ::dlsym(lib.handle, name) : nullptr;
}

}  // namespace

const std::string& libpq_problem() { return library().problem; }

}  // namespace bastion::record::pg

using bastion::record::pg::symbol;

// The real function, resolved once; `fallback` is what a missing library (or symbol) returns.
#define BASTION_PQ_FORWARD(ret, name, params, args, fallback)                         \
  extern "C" ret name params {                                                         \
    static const auto real = reinterpret_cast<decltype(&name)>(symbol(#name));         \
    if (real == nullptr) return fallback;                                              \
    return real args;                                                                  \
  }
#define BASTION_PQ_FORWARD_VOID(name, params, args, fallback) \
  extern "C" void name params {                               \
    static const auto real = reinterpret_cast<decltype(&name)>(symbol(#name)); \
    if (real == nullptr) {                                    \
      fallback;                                               \
      return;                                                 \
    }                                                         \
    real args;                                                \
  }

BASTION_PQ_FORWARD(PGconn*, PQconnectdbParams,
                   (const char* const* keywords, const char* const* values, int expand_dbname),
                   (keywords, values, expand_dbname), nullptr)
BASTION_PQ_FORWARD(ConnStatusType, PQstatus, (const PGconn* conn), (conn), CONNECTION_BAD)
BASTION_PQ_FORWARD(PGTransactionStatusType, PQtransactionStatus, (const PGconn* conn), (conn),
                   PQTRANS_UNKNOWN)
BASTION_PQ_FORWARD(char*, PQerrorMessage, (const PGconn* conn), (conn),
                   const_cast<char*>(bastion::record::pg::libpq_problem().c_str()))
BASTION_PQ_FORWARD(const char*, PQparameterStatus, (const PGconn* conn, const char* paramName),
                   (conn, paramName), nullptr)
BASTION_PQ_FORWARD(int, PQsocket, (const PGconn* conn), (conn), -1)
BASTION_PQ_FORWARD(int, PQsetnonblocking, (PGconn * conn, int arg), (conn, arg), -1)
BASTION_PQ_FORWARD(PQnoticeReceiver, PQsetNoticeReceiver,
                   (PGconn * conn, PQnoticeReceiver proc, void* arg), (conn, proc, arg), nullptr)
BASTION_PQ_FORWARD_VOID(PQfinish, (PGconn * conn), (conn), (void)conn)
BASTION_PQ_FORWARD(PGresult*, PQexec, (PGconn * conn, const char* query), (conn, query), nullptr)
BASTION_PQ_FORWARD(int, PQsendQuery, (PGconn * conn, const char* query), (conn, query), 0)
BASTION_PQ_FORWARD(int, PQsendQueryParams,
                   (PGconn * conn, const char* command, int nParams, const Oid* paramTypes,
                    const char* const* paramValues, const int* paramLengths, const int* paramFormats,
                    int resultFormat),
                   (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats,
                    resultFormat),
                   0)
BASTION_PQ_FORWARD(int, PQsendPrepare,
                   (PGconn * conn, const char* stmtName, const char* query, int nParams,
                    const Oid* paramTypes),
                   (conn, stmtName, query, nParams, paramTypes), 0)
BASTION_PQ_FORWARD(int, PQsendQueryPrepared,
                   (PGconn * conn, const char* stmtName, int nParams, const char* const* paramValues,
                    const int* paramLengths, const int* paramFormats, int resultFormat),
                   (conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat), 0)
BASTION_PQ_FORWARD(PGresult*, PQgetResult, (PGconn * conn), (conn), nullptr)
BASTION_PQ_FORWARD(int, PQisBusy, (PGconn * conn), (conn), 0)
BASTION_PQ_FORWARD(int, PQconsumeInput, (PGconn * conn), (conn), 0)
BASTION_PQ_FORWARD(ExecStatusType, PQresultStatus, (const PGresult* res), (res), PGRES_FATAL_ERROR)
BASTION_PQ_FORWARD(char*, PQresultErrorMessage, (const PGresult* res), (res),
                   const_cast<char*>(bastion::record::pg::libpq_problem().c_str()))
BASTION_PQ_FORWARD(char*, PQresultErrorField, (const PGresult* res, int fieldcode), (res, fieldcode),
                   nullptr)
BASTION_PQ_FORWARD(int, PQntuples, (const PGresult* res), (res), 0)
BASTION_PQ_FORWARD(int, PQnfields, (const PGresult* res), (res), 0)
BASTION_PQ_FORWARD(char*, PQgetvalue, (const PGresult* res, int tup_num, int field_num),
                   (res, tup_num, field_num), nullptr)
BASTION_PQ_FORWARD(int, PQgetlength, (const PGresult* res, int tup_num, int field_num),
                   (res, tup_num, field_num), 0)
BASTION_PQ_FORWARD(int, PQgetisnull, (const PGresult* res, int tup_num, int field_num),
                   (res, tup_num, field_num), 1)
BASTION_PQ_FORWARD_VOID(PQclear, (PGresult * res), (res), (void)res)
// libpq's PQfreemem is free(); without the library the only memory handed out is ours (below).
BASTION_PQ_FORWARD_VOID(PQfreemem, (void* ptr), (ptr), std::free(ptr))
BASTION_PQ_FORWARD_VOID(PQconninfoFree, (PQconninfoOption * connOptions), (connOptions),
                        (void)connOptions)
// Without the library a URL cannot be parsed: say why, in memory PQfreemem releases.
BASTION_PQ_FORWARD(PQconninfoOption*, PQconninfoParse, (const char* conninfo, char** errmsg),
                   (conninfo, errmsg),
                   (errmsg ? (*errmsg = ::strdup(bastion::record::pg::libpq_problem().c_str()), nullptr)
                           : nullptr))
